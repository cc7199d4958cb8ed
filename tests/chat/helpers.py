"""Running the real `parley` command with scripted models, and reading what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

UNSAFE = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]] + [
    "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\U000e0041",
]  # fmt: skip


def scripted(tmp_path: Path, *replies: str | dict[str, Any], extra: str = "") -> Path:
    """A models.toml whose default model replies with `replies`, in order."""
    script = tmp_path / "replies.jsonl"
    script.write_text("".join(json.dumps(r if isinstance(r, dict) else {"content": r}) + "\n" for r in replies))
    config = tmp_path / "models.toml"
    config.write_text(
        f'default = "s"\n[models.s]\nscript = "{script.name}"\nn_ctx = 8192\n[models.s.sampling]\nmax_tokens = 2000\n'
        f'[moderation]\nbackend = "offline"\n{extra}'
    )
    return config


def parley(
    *args: str, stdin: bytes = b"", home: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONUTF8": "1"}
    if home is not None:
        env.update(
            XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache")
        )
    return subprocess.run(
        [sys.executable, "-m", "chat", *args], input=stdin, capture_output=True, cwd=ROOT, env=env, timeout=timeout
    )


def one_line(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def events(stdout: bytes, kind: str | None = None) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in stdout.decode().splitlines()]
    return [e for e in found if kind is None or e["type"] == kind]
