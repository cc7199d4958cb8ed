"""Does the TUI slow a stream down? A 2,000-token reply from the fake engine at a fixed pace,
streamed through the TUI (headless `run_test`) and through the headless runner, in one run.

    python bench/tui_stream.py [--tokens 2000] [--delay 0.002] [--rounds 3] [--history 50]

Prints, for each round, how long the generation took in each (the model thread's own timing:
does the UI slow the stream down?), and when the TUI had the whole reply on screen. The target
is a median ratio TUI / headless of at most 1.03 (issue 12).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.config import ActionsConfig  # noqa: E402
from chat.config import Config, ModelConfig  # noqa: E402
from chat.conversation import Conversation, Reply, Turn  # noqa: E402
from chat.runner import Runner  # noqa: E402
from chat.sampling import Sampling  # noqa: E402
from chat.script import Step  # noqa: E402
from chat.scripted_engine import ScriptedEngine, ScriptedLoader  # noqa: E402
from chat.session import Session  # noqa: E402
from chat.tui.app import ParleyApp  # noqa: E402
from chat.tui.conversation import MessageView  # noqa: E402


def fake_config(max_tokens: int) -> Config:
    """The fake engine with room for the whole reply and a long history, no actions (the stream
    alone is measured)."""
    model = ModelConfig(path=Path("fake.gguf"), n_ctx=131072, sampling=Sampling(max_tokens=max_tokens))
    return Config(default="fake", models={"fake": model}, actions=ActionsConfig(enabled=False))


def reply_text(tokens: int, shape: str) -> str:
    """About `tokens` fake tokens (a word and a space are one token each).

    "paragraphs": Markdown as models write it, paragraphs of ~40 words with a list now and then;
    "single": one unbroken paragraph, the worst case for a Markdown renderer.
    """
    words = [f"w{i}" for i in range(tokens // 2)]
    if shape == "single":
        return " ".join(words)
    blocks = []
    for start in range(0, len(words), 40):
        chunk = words[start : start + 40]
        if (start // 40) % 4 == 3:
            blocks.append("\n".join(f"- {' '.join(chunk[i : i + 8])}" for i in range(0, len(chunk), 8)))
        else:
            blocks.append(" ".join(chunk))
    return "\n\n".join(blocks)


class PacedLoader(ScriptedLoader):
    """Fake engines that stream `reply` at `delay` seconds a token."""

    def __init__(self, reply: str, delay: float) -> None:
        super().__init__(reply)
        self.delay = delay

    def __call__(self, name: str, model: ModelConfig) -> ScriptedEngine:
        engine = super().__call__(name, model)
        engine.token_delay = self.delay
        return engine


def history(turns: int) -> Conversation:
    """A conversation of `turns` earlier turns, each reply ~300 words of Markdown."""
    reply = Reply(content=reply_text(600, "paragraphs"), model="fake", params=Sampling(), finish_reason="stop",
                  prompt_tokens=0, completion_tokens=600, evaluated_prompt_tokens=0)  # fmt: skip
    return Conversation(turns=[Turn(user=f"question {i}", reply=reply) for i in range(turns)])


def headless(tmp: Path, reply: str, delay: float, max_tokens: int, earlier: int) -> float:
    """Seconds the generation took (first to last token, as the pipeline measures it)."""
    session = Session(fake_config(max_tokens + 100), PacedLoader(reply, delay))
    session.use_conversation(history(earlier))
    runner = Runner(session, out=io.StringIO(), err=io.StringIO())
    runner.step(Step("user", "go", 1))
    turn = session.conversation.turns[-1]
    assert turn.reply is not None
    return turn.reply.duration_s


async def tui(tmp: Path, reply: str, delay: float, max_tokens: int, earlier: int) -> tuple[float, float]:
    """(seconds the generation took, seconds until the screen showed the whole reply)."""
    app = ParleyApp(fake_config(max_tokens + 100), PacedLoader(reply, delay), data_dir=tmp / "data",
                    settings_file=tmp / "tui.json")  # fmt: skip
    async with app.run_test() as pilot:
        while app.session is None or not app.idle.is_set():
            await pilot.pause(0.01)
        conversation = history(earlier)
        app.session.use_conversation(conversation)
        await app.chat.show(conversation)  # the earlier turns on screen
        await pilot.pause(0.5)
        start = time.perf_counter()
        await app.enter("go")
        while app.generating:
            await asyncio.sleep(0.005)
        shown = time.perf_counter() - start
        reply_view = [m for m in app.query(MessageView) if m.role == "assistant"][-1]
        assert reply_view.text == reply, "the TUI lost text"
        assert app.session is not None
        turn = app.session.conversation.turns[-1]
        assert turn.reply is not None
    return turn.reply.duration_s, shown


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument(
        "--delay", type=float, default=0.02, help="seconds per token (0.02: the embedded model's pace here)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shape", choices=["paragraphs", "single"], default="paragraphs")
    parser.add_argument("--history", type=int, default=0, help="earlier turns on screen (and in the prompt)")
    args = parser.parse_args()
    reply = reply_text(args.tokens, args.shape)
    ratios = []
    for round_number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            t_headless = headless(Path(a), reply, args.delay, args.tokens, args.history)
            t_tui, t_shown = asyncio.run(tui(Path(b), reply, args.delay, args.tokens, args.history))
        ratios.append(t_tui / t_headless)
        print(
            f"round {round_number}: generation headless {t_headless:.2f}s, in the TUI {t_tui:.2f}s "
            f"(ratio {ratios[-1]:.3f}); whole reply on screen after {t_shown:.2f}s"
        )
    floor = args.tokens * args.delay
    print(f"{args.tokens} tokens ({args.shape}) at {args.delay * 1000:g} ms/token (pace floor {floor:.2f}s), "
          f"{args.history} earlier turns")  # fmt: skip
    print(f"median TUI / headless: {statistics.median(ratios):.3f} (target <= 1.03)")


if __name__ == "__main__":
    main()
