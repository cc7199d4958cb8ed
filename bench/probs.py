"""How long /probs takes on the embedded model (issue 14: within 200 ms).

A session as a user has it (moderation on), a few turns of conversation; after each reply, /probs
through the command layer as the TUI runs it: after the reply, then at every tenth position
walking back to the start, then forward again, then from the first token straight to the last.
Each lookup inside the reply cuts the cache back, evaluates one token as generation did, and puts
the cache back (a copy of its cells), so no direction costs more than another.

    python bench/probs.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.commands import execute, next_token  # noqa: E402
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
                                       "/probs N, forward 10 tokens": [], "/probs 1, then the last": []}  # fmt: skip

    def timed(label: str, line: str) -> None:
        start = time.perf_counter()
        execute(session, line)
        timings[label].append(time.perf_counter() - start)

    for question in QUESTIONS:
        pipeline.send(question)
        timed("/probs after a reply", "/probs")
        length = next_token(session, "").position - 1  # the reply's tokens
        positions = list(range(1, length + 1, 10))
        for position in reversed(positions):
            timed("/probs N, walking back", f"/probs {position}")
        for position in positions[1:]:
            timed("/probs N, forward 10 tokens", f"/probs {position}")
        execute(session, "/probs 1")
        timed("/probs 1, then the last", f"/probs {length}")
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
