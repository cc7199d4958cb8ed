"""Time to first shown text over a long conversation, and the first turn after a warm-up (issue 12).

The embedded model through the whole turn pipeline (moderation and the guard on, the shipped
system prompt and actions prompt), greedy, short replies, until the window has been truncated
and ten more turns have run. Time to first shown text is measured from the send to the first
text the user could see (moderated). Also the first turn of a chat, alternating: cold (nothing
evaluated before), warmed up while the user "types" (one second), and with the prompt cache's
file written by an earlier run (in a folder of the bench's own). The long conversation runs
without the prompt cache.

    python bench/turns.py [--turns 40] [--n-ctx 2048] [--max-tokens 64] [--rounds 3]

Targets: turn 20 <= 1.2 x turn 2; after a truncation, the next ten turns <= 1.5 x the turns before.
Also printed: how much slower llama.cpp alone decodes a token at turn 20's context length than at
turn 2's (the same model, no Parley), the part of the growth that is the model's own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.config import find_config, load_config  # noqa: E402
from chat.engine import Engine, StreamEvent, TextDelta  # noqa: E402
from chat.events import Event, TextShown, TurnDone  # noqa: E402
from chat.llama_engine import default_threads  # noqa: E402
from chat.models import load_engine, local_path  # noqa: E402
from chat.pipeline import ApprovalPolicy, Pipeline  # noqa: E402
from chat.session import Session  # noqa: E402

TOPICS = ["rivers", "bread", "owls", "bicycles", "tea", "volcanoes", "chess", "maps", "bees", "glass",
          "clouds", "violins", "trains", "salt", "kites", "moss", "lighthouses", "ink", "wolves", "paper"]  # fmt: skip


class Timer:
    """Collects, for the turn being run, when the model's first token came, when the first text
    was shown (moderated: a whole sentence), and what TurnDone said."""

    def __init__(self) -> None:
        self.sent = self.first = self.token = 0.0
        self.done: TurnDone | None = None

    def watch(self, engine: Engine) -> None:
        """Note the first token of each of `engine`'s streams."""
        stream = engine.stream

        def timed(*args: Any, **kwargs: Any) -> Iterator[StreamEvent]:
            for event in stream(*args, **kwargs):
                if isinstance(event, TextDelta) and not self.token:
                    self.token = time.perf_counter()
                yield event

        engine.stream = timed  # type: ignore[method-assign]

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextShown) and not self.first:
            self.first = time.perf_counter()
        elif isinstance(event, TurnDone):
            self.done = event

    def turn(self, pipeline: Pipeline, text: str) -> tuple[float, float, TurnDone]:
        """(seconds to the first token, to the first text shown, the turn)."""
        self.first = self.token = 0.0
        self.done = None
        self.sent = time.perf_counter()
        pipeline.send(text)
        assert self.done is not None
        return self.token - self.sent, (self.first or time.perf_counter()) - self.sent, self.done


def session(args: argparse.Namespace, timer: Timer, prompt_cache: bool = False) -> tuple[Session, Pipeline]:
    config = load_config(find_config())
    name, model = config.model(None)
    sampling = model.sampling.model_copy(update={"temperature": 0.0, "max_tokens": args.max_tokens})
    update = {"n_ctx": args.n_ctx, "sampling": sampling, "prompt_cache": prompt_cache}
    models = {**config.models, name: model.model_copy(update=update)}
    config = config.model_copy(update={"models": models, "overflow": "truncate"})
    s = Session(config, load_engine)
    timer.watch(s.engine)
    pipeline = Pipeline(s, timer, policy=ApprovalPolicy("never"))
    pipeline.start()
    return s, pipeline


def long_conversation(args: argparse.Namespace) -> None:
    timer = Timer()
    s, pipeline = session(args, timer)
    tokens: list[float] = []
    texts: list[float] = []
    dones: list[TurnDone] = []
    for i in range(args.turns):
        token, text, done = timer.turn(pipeline, f"Tell me one fact about {TOPICS[i % len(TOPICS)]}.")
        tokens.append(token)
        texts.append(text)
        dones.append(done)
        dropped = f"  dropped {','.join(map(str, done.dropped))}" if done.dropped else ""
        print(
            f"turn {i + 1:>2}: first token {token * 1e3:5.0f} ms, first text {text * 1e3:5.0f} ms, "
            f"prompt {done.reply.prompt_tokens:>5}, evaluated {done.reply.evaluated_prompt_tokens:>5}{dropped}"
        )
    s.close()
    print()
    for name, series in (("first token", tokens), ("first text", texts)):
        print(f"{name}: turn 20 / turn 2: {series[19] / series[1]:.2f} (target <= 1.2); median of turns 16-24 "
              f"/ turns 2-10: {statistics.median(series[15:24]) / statistics.median(series[1:10]):.2f}")  # fmt: skip
    early = statistics.median(d.reply.prompt_tokens for d in dones[1:10])
    late = statistics.median(d.reply.prompt_tokens for d in dones[15:24])
    print(f"llama.cpp alone, a token decoded after {late:.0f} / after {early:.0f} tokens of context: "
          f"{decode_growth(args, int(early), int(late)):.2f}")  # fmt: skip
    cut = next((i for i, done in enumerate(dones) if done.dropped), None)
    if cut is None or cut < 10 or cut + 10 >= len(dones):
        print("no truncation with ten turns on each side: raise --turns")
        return
    for name, series in (("first token", tokens), ("first text", texts)):
        before, after = statistics.median(series[cut - 10 : cut]), statistics.median(series[cut : cut + 10])
        print(f"{name}, first truncation at turn {cut + 1}: median of the ten turns after / the ten before: "
              f"{after / before:.2f} (target <= 1.5); the truncating turn {series[cut] * 1e3:.0f} ms")  # fmt: skip


def decode_growth(args: argparse.Namespace, early: int, late: int, rounds: int = 5) -> float:
    """How much slower llama.cpp itself decodes a token after `late` tokens of context than after
    `early` (median of alternating rounds, the embedded model in a bare llama-cpp-python with the
    engine's threads): the part of the long conversation's growth that is the model's attention
    over a longer cache, not Parley's."""
    import llama_cpp

    config = load_config(find_config())
    _, model = config.model(None)
    path = local_path(model)
    assert path is not None, "the default model is not on this machine"
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=args.n_ctx, n_threads=model.n_threads or default_threads(),
                          verbose=False)  # fmt: skip
    filler = llm.tokenize(" ".join(TOPICS * 200).encode())[: late + 40]
    times: dict[int, list[float]] = {early: [], late: []}
    for _ in range(rounds):
        for length in (early, late):
            llm.n_tokens = 0
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
            llm.eval(filler[:length])
            start = time.perf_counter()
            for token in filler[length : length + 32]:
                llm.eval([token])
            times[length].append(time.perf_counter() - start)
    llm.close()
    return statistics.median(times[late]) / statistics.median(times[early])


def first_turn(args: argparse.Namespace) -> None:
    modes = ["cold", "warmed up", "prompt cache"]
    results: dict[str, list[float]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as folder:
        os.environ["XDG_CACHE_HOME"] = folder  # the bench's own prompt cache
        earlier, _ = session(args, Timer(), prompt_cache=True)  # an earlier run: its warm-up writes the file
        earlier.warm_up()
        earlier.close()
        for round_ in range(args.rounds):
            for mode in modes[round_ % 3 :] + modes[: round_ % 3]:
                timer = Timer()
                s, pipeline = session(args, timer, prompt_cache=mode == "prompt cache")
                if mode == "warmed up":
                    s.warm_up()
                time.sleep(1.0)  # the user types
                _, ttft, done = timer.turn(pipeline, "What is a good name for a cat?")
                results[mode].append(ttft)
                print(
                    f"first turn, {mode:<12}: first text {ttft * 1e3:6.0f} ms, "
                    f"evaluated {done.reply.evaluated_prompt_tokens} of {done.reply.prompt_tokens} prompt tokens"
                )
                s.close()
    medians = ", ".join(f"{mode} {statistics.median(results[mode]) * 1e3:.0f} ms" for mode in modes)
    print(f"\nfirst turn, median first text: {medians}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    first_turn(args)
    print()
    long_conversation(args)


if __name__ == "__main__":
    main()
