"""How long /probs takes on the embedded model (issue 14: within 200 ms).

A session as a user has it (moderation on), a few turns of conversation; after each reply, /probs
through the command layer as the TUI runs it: after the reply, then at every tenth position
walking back to the start (each one decode: the cache is cut back), then walking forward again by
ten tokens at a time (each evaluates the ten tokens one at a time, as generation did: that is what
keeps the numbers the ones generation drew from).

    python bench/probs.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.commands import execute  # noqa: E402
from chat.config import find_config, load_config  # noqa: E402
from chat.models import load_engine  # noqa: E402
from chat.pipeline import Pipeline  # noqa: E402
from chat.session import Session  # noqa: E402

QUESTIONS = ["How do I list the files in a folder with Python?", "And only the .txt ones?", "Thanks! Now sort them."]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.parse_args()
    session = Session(load_config(find_config(None)), load_engine)
    session.params = session.params.model_copy(update={"max_tokens": 120, "seed": 1})
    pipeline = Pipeline(session, lambda event: None)
    timings: dict[str, list[float]] = {"/probs after a reply": [], "/probs N, walking back": [],
                                       "/probs N, forward 10 tokens": []}  # fmt: skip

    def timed(label: str, line: str) -> None:
        start = time.perf_counter()
        execute(session, line)
        timings[label].append(time.perf_counter() - start)

    for question in QUESTIONS:
        pipeline.send(question)
        timed("/probs after a reply", "/probs")
        reply = session.conversation.turns[-1].reply
        assert reply is not None
        positions = list(range(1, len(session.engine.text_tokens(reply.content)) + 1, 10))
        for position in reversed(positions):
            timed("/probs N, walking back", f"/probs {position}")
        for position in positions[1:]:
            timed("/probs N, forward 10 tokens", f"/probs {position}")
    print(f"{len(session.conversation.turns)} turns, "
          f"{session.engine.count_tokens(session.conversation.context_messages())} tokens in the window")  # fmt: skip
    for label, values in timings.items():
        if values:
            print(f"{label:<28} median {statistics.median(values) * 1000:6.1f} ms   max {max(values) * 1000:6.1f} ms"
                  f"   ({len(values)} calls)")  # fmt: skip
    worst = max(max(v) for v in timings.values() if v)
    print(f"slowest /probs: {worst * 1000:.0f} ms (target <= 200 ms)")


if __name__ == "__main__":
    main()
