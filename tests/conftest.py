"""Shared fixtures: a config, a fake engine, a session built on it and a pipeline to run turns."""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chat import cli
from chat.config import Config, load_config
from chat.events import Event
from chat.pipeline import Pipeline
from chat.scripted_engine import ScriptedEngine, ScriptedLoader
from chat.session import Session
from tests.llama_server import EMBEDDED_GGUF as EMBEDDED_GGUF  # the tests import it from here

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the user's real config, data and HF cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))  # the prompt cache: one per test
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
    moderation: str = 'backend = "offline"',
) -> Config:
    """A config for the scripted engine; `actions` and `moderation` are the bodies of those tables
    (the offline word model by default: quick to load, and its scores are what the tests expect)."""
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
[moderation]
{moderation}
[actions]
{actions}
""",
    )
    return load_config(path)


@pytest.fixture
def loader() -> ScriptedLoader:
    return ScriptedLoader()


@pytest.fixture
def session(tmp_path: Path, loader: ScriptedLoader) -> Session:
    return Session(fake_config(tmp_path), loader)


@pytest.fixture
def engine(session: Session) -> ScriptedEngine:
    assert isinstance(session.engine, ScriptedEngine)
    return session.engine


class Recorder(list[Event]):
    """An event sink that keeps what the pipeline emitted."""

    def __call__(self, event: Event) -> None:
        self.append(event)

    def types(self) -> list[str]:
        return [e.type for e in self]


@pytest.fixture
def events() -> Recorder:
    return Recorder()


@pytest.fixture
def pipeline(session: Session, events: Recorder) -> Pipeline:
    """Turns on the session, nobody to ask (a script's view), events recorded."""
    return Pipeline(session, events)


def moderated_config(tmp_path: Path, moderation: str) -> Config:
    """fake_config with this [moderation] table (TOML lines)."""
    return fake_config(tmp_path, moderation=moderation)


class Stdin(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@dataclass
class Cli:
    """Runs `parley` in process with `loader` in place of llama.cpp and `stdin` as its input."""

    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    config: Config
    loader: ScriptedLoader = field(default_factory=ScriptedLoader)

    def __call__(self, *args: str, stdin: str = "", tty: bool = False) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of `parley --config CONFIG ARGS...`; with `tty`, stdin
        looks like a terminal (a person who can answer questions)."""
        self.monkeypatch.setattr(cli, "load_engine", self.loader)
        self.monkeypatch.setattr("sys.stdin", Stdin(stdin, tty))
        code = cli.main(["--config", str(self.config.origin), *args])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, capsys, fake_config(tmp_path, max_tokens=20))


def json_events(out: str, kind: str | None = None) -> list[dict[str, Any]]:
    """The JSON Lines events in `out` (of one type, if given)."""
    found = [json.loads(line) for line in out.splitlines()]
    return [e for e in found if kind is None or e["type"] == kind]


def active(attributes: str) -> bool:
    """Whether an HTML tag's attributes would do something: an event handler, or a link or source
    whose URL (decoded as a browser decodes it) runs a script or carries data."""
    if re.search(r"\bon\w+\s*=", attributes):
        return True
    urls = [html.unescape(u) for u in re.findall(r'(?:href|src)="([^"]*)"', attributes)]
    return any(re.match(r"\s*(?:javascript|vbscript|data|file):", u, re.IGNORECASE) for u in urls)


def record_embeddings(llama: Any, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The texts llama.cpp is asked to embed from now on, batch by batch (what the encoder
    remembers never reaches it)."""
    computed: list[list[str]] = []
    real = llama.embed

    def recording(texts: list[str], **options: bool) -> object:
        computed.append(list(texts))
        return real(texts, **options)

    monkeypatch.setattr(llama, "embed", recording)
    return computed
