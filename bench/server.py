"""What the HTTP engine costs: the embedded model in Parley's own process against the same model
behind llama-cpp-python's OpenAI-compatible server (on 127.0.0.1), in one run, alternating.

    python bench/server.py [--rounds 5] [--max-tokens 200]

For each engine, greedy, the same questions: the time to the first streamed text and the decode
pace (first to last piece), at the engine (no moderation: the engines alone are compared); and the
time an exact count of a 10-turn conversation takes (the context meter asks for one after every
turn; the server renders with the local template and tokenizes over HTTP). A bare client reading
the same stream (http.client, no Parley) tells the server's own cost from the HTTP engine's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat.config import ModelConfig  # noqa: E402
from chat.engine import Engine, Message, TextDelta  # noqa: E402
from chat.gguf_header import read_metadata  # noqa: E402
from chat.http_engine import HttpEngine  # noqa: E402
from chat.llama_engine import LlamaEngine  # noqa: E402
from chat.sampling import Sampling  # noqa: E402
from tests.llama_server import EMBEDDED_GGUF, start_server  # noqa: E402

QUESTIONS = [
    "How do I list the files in a folder with Python?",
    "Explain what a hash table is.",
    "Write a short poem about the sea.",
]


def timed_reply(engine: Engine, question: str, max_tokens: int) -> tuple[float, float, int]:
    """(seconds to the first text, pieces per second after it, pieces)."""
    messages: list[Message] = [{"role": "user", "content": question}]
    params = Sampling(temperature=0.0, max_tokens=max_tokens, seed=1)
    start = time.perf_counter()
    events = engine.stream(messages, params, threading.Event())
    stamps = [time.perf_counter() for event in events if isinstance(event, TextDelta)]
    pace = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return stamps[0] - start, pace, len(stamps)


def bare_reply(url: str, question: str, max_tokens: int) -> tuple[float, float, int]:
    """timed_reply's numbers for a minimal client of the server's stream, without Parley."""
    parts = urlsplit(url)
    sampling = {"temperature": 0.0, "seed": 1, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.1}
    body = {"messages": [{"role": "user", "content": question}], "stream": True, "max_tokens": max_tokens, **sampling}
    start = time.perf_counter()
    connection = http.client.HTTPConnection(parts.netloc, timeout=60)
    connection.request("POST", parts.path + "/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    stamps = []
    for line in response:
        if line.startswith(b"data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
            stamps.append(time.perf_counter())
    connection.close()
    pace = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return stamps[0] - start, pace, len(stamps)


def count_time(engine: Engine, turns: int = 10) -> float:
    """Seconds for one exact count of a `turns`-turn conversation, not cached."""
    messages: list[Message] = []
    for i in range(turns):
        messages.append({"role": "user", "content": f"Question {i} {time.time()}: tell me about the number {i}."})
        messages.append({"role": "assistant", "content": f"The number {i} is interesting for many reasons. " * 5})
    start = time.perf_counter()
    engine.count_tokens(messages)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()
    process, url = start_server()
    template = Path(ROOT / "bench" / ".smollm2.jinja")
    template.write_text(read_metadata(EMBEDDED_GGUF, {"tokenizer.chat_template"})["tokenizer.chat_template"])
    # One thread each, as the server runs (tests.test_server.start_server).
    local = LlamaEngine("local", EMBEDDED_GGUF, ModelConfig(path=EMBEDDED_GGUF, n_threads=1, prompt_cache=False))
    served = HttpEngine("served", ModelConfig(url=url, chat_template=str(template)))
    results: dict[str, list[tuple[float, float, int]]] = {"local": [], "server": [], "bare client": []}
    counts: dict[str, list[float]] = {"local": [], "server": []}
    try:
        for round_number in range(args.rounds):
            order = ["local", "server", "bare client"]
            for name in order if round_number % 2 == 0 else reversed(order):
                for question in QUESTIONS:
                    if name == "bare client":
                        results[name].append(bare_reply(url, question, args.max_tokens))
                    else:
                        engine = local if name == "local" else served
                        results[name].append(timed_reply(engine, question, args.max_tokens))
                if name != "bare client":
                    counts[name].append(count_time(local if name == "local" else served))
        for name, found in results.items():
            first = statistics.median(r[0] for r in found)
            pace = statistics.median(r[1] for r in found)
            count = f", 10-turn count {statistics.median(counts[name]) * 1000:.1f} ms" if name in counts else ""
            print(f"{name:>11}: first text {first * 1000:.0f} ms, {pace:.1f} pieces/s{count}")

        def median(name: str, index: int) -> float:
            return statistics.median(r[index] for r in results[name])

        ratio, extra = median("server", 1) / median("local", 1), median("server", 0) - median("local", 0)
        setup = f"{args.rounds} rounds x {len(QUESTIONS)} questions, alternating, greedy, {args.max_tokens} tokens"
        bare = median("server", 1) / median("bare client", 1)
        print(f"server / local pace: {ratio:.3f}; first text {extra * 1000:+.0f} ms ({setup})")
        print(f"HTTP engine / bare client pace: {bare:.3f}")
    finally:
        local.close()
        process.terminate()
        process.wait(timeout=30)
        template.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
