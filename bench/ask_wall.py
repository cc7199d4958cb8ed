"""`parley ask` against a raw llama-cpp-python script doing the same generation (issue 12).

Each round starts both as fresh processes, alternating which goes first, so they share the
machine's noise: the raw script loads the embedded model and streams `create_chat_completion`
with the very messages Parley sends (its system prompt, the actions prompt and the question)
and the same sampling, greedy; `parley ask` runs as a user runs it, moderation and the guard on,
twice: cold (an empty prompt cache: the whole prompt is evaluated, as the raw script does) and
warm (the prompt cache holds the start every prompt shares, written by an earlier run, as on a
user's machine after the first). Measured from the parent, from spawn: the time to the first
text on stdout and the time to exit; and each side's decode pace, first to last token (the raw
script times its chunks; Parley's transcript records its own). Also from the request, as the
issue's own table measured it: from the call that starts the generation (the model loaded) to
the first text shown, which leaves out start-up (the wall time covers that).

    python bench/ask_wall.py [--rounds 5] [--max-tokens 200]

Targets: wall time <= 1.10 x raw, first shown text <= raw + 150 ms, pace >= 0.97 x raw.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actions.registry import Registry  # noqa: E402
from chat.config import find_config, load_config  # noqa: E402
from chat.conversation import Conversation  # noqa: E402
from chat.llama_engine import default_threads  # noqa: E402
from chat.models import local_path  # noqa: E402
from prompts import load_presets  # noqa: E402

QUESTIONS = [
    "How do I list the files in a folder with Python?",
    "What is the difference between a virus and a bacterium?",
    "Give me three ideas for a quick weekday dinner.",
]

# The raw side: what a developer would write with llama-cpp-python alone. Reads its job as JSON
# on stdin, streams the reply to stdout, prints its token timing as JSON on stderr.
RAW = r"""
import json, sys, time
job = json.load(sys.stdin)
from llama_cpp import Llama
llm = Llama(model_path=job["model"], n_ctx=job["n_ctx"], n_threads=job["threads"], verbose=False)
times = []
asked = time.perf_counter()
for chunk in llm.create_chat_completion(job["messages"], stream=True, **job["sampling"]):
    text = chunk["choices"][0]["delta"].get("content")
    if text:
        times.append(time.perf_counter())
        sys.stdout.write(text)
        sys.stdout.flush()
pace = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
print(json.dumps({"tokens": len(times), "tokens_per_s": pace, "first_s": times[0] - asked}), file=sys.stderr)
"""


def timed(command: list[str], stdin: str, env: dict[str, str]) -> tuple[float, float, str, str]:
    """Run `command`; seconds from spawn to its first stdout byte and to its exit, stdout, stderr."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdin and process.stdout and process.stderr
    process.stdin.write(stdin.encode())
    process.stdin.close()
    first_byte = process.stdout.read(1)
    first = time.perf_counter() - start
    rest = process.stdout.read()
    err = process.stderr.read()
    process.wait()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({process.returncode}): {err.decode(errors='replace')[-500:]}")
    return first, wall, (first_byte + rest).decode(errors="replace"), err.decode(errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()

    config = load_config(find_config())
    name, model = config.model(None)
    conversation = Conversation(actions_prompt=Registry.from_config(config.actions).prompt())
    conversation.system = load_presets()[model.prompt].text
    sampling = model.sampling.model_copy(update={"temperature": 0.0, "max_tokens": args.max_tokens})
    raw_sampling = {k: getattr(sampling, k) for k in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty",
                                                      "max_tokens")}  # fmt: skip
    threads = model.n_threads or default_threads()
    print(f"model {name}, n_ctx {model.n_ctx}, {threads} thread(s), greedy, max_tokens {args.max_tokens}, "
          f"{args.rounds} rounds x {len(QUESTIONS)} questions, alternating\n")  # fmt: skip

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_DATA_HOME": tmp, "XDG_CONFIG_HOME": tmp}  # no user config, nothing left behind
        warm_env = {**env, "XDG_CACHE_HOME": str(Path(tmp) / "warm")}
        timed([sys.executable, "-m", "chat", "ask", "--set", "max_tokens=1", "Hello"], "", warm_env)  # writes it
        for round_ in range(args.rounds):
            for q, question in enumerate(QUESTIONS):
                job = {"model": str(local_path(model)), "n_ctx": model.n_ctx, "threads": threads,
                       "messages": conversation.context_messages(question), "sampling": raw_sampling}  # fmt: skip
                transcript = Path(tmp) / f"t{round_}-{q}.jsonl"
                parley = [sys.executable, "-m", "chat", "ask", "--set", "temperature=0", "--set",
                          f"max_tokens={args.max_tokens}", "--transcript", str(transcript), question]  # fmt: skip
                raw = [sys.executable, "-c", RAW]
                cold_env = {**env, "XDG_CACHE_HOME": str(Path(tmp) / f"cold-{round_}-{q}")}  # an empty cache
                results: dict[str, tuple[float, float, float, int, float]] = {}
                order = [("raw", raw, json.dumps(job), env), ("parley", parley, "", cold_env),
                         ("warm", parley, "", warm_env)]  # fmt: skip
                shift = (round_ * len(QUESTIONS) + q) % len(order)
                for side, command, stdin, side_env in order[shift:] + order[:shift]:
                    transcript.unlink(missing_ok=True)
                    first, wall, _, err = timed(command, stdin, side_env)
                    if side == "raw":
                        stats = json.loads(err.strip().splitlines()[-1])
                        results[side] = (first, wall, stats["tokens_per_s"], stats["tokens"], stats["first_s"])
                    else:
                        turn = next(json.loads(line) for line in transcript.read_text().splitlines()
                                    if json.loads(line)["type"] == "turn")  # fmt: skip
                        timing = turn["timing"]
                        results[side] = (first, wall, timing["tokens_per_s"], turn["usage"]["completion_tokens"],
                                         timing["ttft_s"])  # fmt: skip
                rows.append(results)
                r, p, w = results["raw"], results["parley"], results["warm"]
                print(
                    f"round {round_ + 1} q{q + 1}: raw first {r[0]:.3f} s wall {r[1]:.3f} s {r[2]:.1f} tok/s "
                    f"({r[3]} tokens) | parley cold first {p[0]:.3f} s wall {p[1]:.3f} s {p[2]:.1f} tok/s | "
                    f"warm first {w[0]:.3f} s wall {w[1]:.3f} s {w[2]:.1f} tok/s"
                )

    def median(side: str, i: int) -> float:
        return float(statistics.median(row[side][i] for row in rows))

    print(f"\nmedians: raw first text {median('raw', 0):.3f} s, wall {median('raw', 1):.3f} s, "
          f"{median('raw', 2):.1f} tok/s")  # fmt: skip
    for side, name in (("parley", "parley, cold prompt cache"), ("warm", "parley, warm prompt cache")):
        wall = statistics.median(row[side][1] / row["raw"][1] for row in rows)
        first = statistics.median(row[side][0] - row["raw"][0] for row in rows)
        asked = statistics.median(row[side][4] - row["raw"][4] for row in rows)
        pace = statistics.median(row[side][2] / row["raw"][2] for row in rows)
        print(f"{name}: first text {median(side, 0):.3f} s, wall {median(side, 1):.3f} s, {median(side, 2):.1f} "
              f"tok/s; wall / raw {wall:.3f} (target <= 1.10), first text - raw {first * 1e3:+.0f} ms (target <= "
              f"+150 ms; from the request {asked * 1e3:+.0f} ms), pace / raw {pace:.3f} (target >= 0.97)")  # fmt: skip


if __name__ == "__main__":
    main()
