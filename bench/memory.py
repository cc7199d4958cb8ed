"""Resident memory of a chat with the embedded model and the default moderation, part by part
(issue 12).

One process does what `parley` does, a step at a time, and reads its resident set size
(VmRSS) after each: the interpreter, Parley's code and libraries, the chat model, the
moderation (encoder and heads), the claim detector's inflection tables, a reply generated
(llama.cpp's buffers are in use), then the TUI showing a 50-turn conversation and streaming a
reply. The peak (VmHWM) is printed too.

    python bench/memory.py

Target: at most 600 MB in all.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def status(key: str) -> float:
    """A /proc/self/status field in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


class Steps:
    def __init__(self) -> None:
        self.last = status("VmRSS")
        print(f"{'part':<44} {'added MB':>9} {'resident MB':>12}")
        print(f"{'the Python interpreter':<44} {self.last:>9.0f} {self.last:>12.0f}")

    def __call__(self, part: str) -> None:
        now = status("VmRSS")
        print(f"{part:<44} {now - self.last:>9.0f} {now:>12.0f}")
        self.last = now


def main() -> None:
    step = Steps()
    import chat.cli  # noqa: F401  (everything `parley` imports at start)
    import chat.session
    from chat.config import find_config, load_config
    from chat.models import load_engine
    from chat.tui.app import ParleyApp
    from moderation import claims
    from moderation.filter import Moderator

    step("Parley's code, Textual, llama-cpp-python")
    config = load_config(find_config())
    name, model = config.model(None)
    engine = load_engine(name, model)
    step(f"chat model ({name}, n_ctx {model.n_ctx})")
    moderator = Moderator(config.moderation)
    moderator.load()
    step(f"moderation ({moderator.backend_name})")
    claims.load()
    step("claim detector (inflection tables)")

    from chat.pipeline import Pipeline
    from chat.session import Session

    session = Session(config, lambda _n, _m: engine, moderator=moderator)
    Pipeline(session, lambda _e: None).send("Tell me about rivers in two sentences.")
    step("one reply generated and moderated")

    from bench.tui_stream import history

    # The TUI makes its own session: hand it the model and the moderation loaded above, as
    # `parley` would have them, rather than count a second copy of each.
    chat.session.Moderator = lambda _config: moderator  # type: ignore[attr-defined,assignment,misc]

    async def tui() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            app = ParleyApp(config, lambda _n, _m: engine, data_dir=Path(tmp) / "data",
                            settings_file=Path(tmp) / "tui.json")  # fmt: skip
            async with app.run_test() as pilot:
                while app.session is None or not app.idle.is_set():
                    await pilot.pause(0.05)
                conversation = history(50)
                app.session.use_conversation(conversation)
                await app.chat.show(conversation)
                await app.enter("Name three rivers.")
                while app.generating:
                    await asyncio.sleep(0.05)
                await pilot.pause(0.2)
                step("TUI, 50-turn conversation, a reply streamed")

    start = time.perf_counter()
    asyncio.run(tui())
    print(f"\nresident now {status('VmRSS'):.0f} MB, peak {status('VmHWM'):.0f} MB (target <= 600 MB); "
          f"TUI part took {time.perf_counter() - start:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
