"""Both front ends drive the one turn pipeline: the same conversation through the TUI (Pilot) and
through `parley run --json` writes the same transcript events, in the same order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chat.config import Config
from chat.scripted_engine import ScriptedLoader
from tests.chat.tui.helpers import answer_dialog, make_app, ready, submit, wait_until
from tests.conftest import Cli, fake_config

SAVE = 'Sure. <action>{"name": "save_note", "arguments": {"text": "buy milk"}}</action>'
LONG = " ".join(f"w{i}" for i in range(30))
# One request approved, one declined, then long turns until the window overflows.
MESSAGES = ["save a note", "save another", *(f"tell me more {i} {LONG}" for i in range(4))]
REPLIES = [SAVE, SAVE, *([LONG] * 4)]
ANSWERS = ["y", "n"]  # at the terminal
KEYS = [["tab", "enter"], ["n"]]  # the same answers in the TUI's dialog
VOLATILE = {"seed", "time", "timing", "created"}  # when things happened, how fast, the seed each reply drew


def config(tmp_path: Path) -> Config:
    return fake_config(tmp_path, n_ctx=400, max_tokens=40, actions="enabled = true")


def comparable(path: Path) -> list[dict[str, Any]]:
    """The transcript without timestamps and timings."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return [strip(json.loads(line)) for line in path.read_text().splitlines()]


def headless_transcript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """`parley run --json --approve ask`, with a person answering at the terminal."""
    script = tmp_path / "script.jsonl"
    script.write_text("".join(json.dumps({"role": "user", "content": m}) + "\n" for m in MESSAGES))
    answers = iter(ANSWERS)
    monkeypatch.setattr("builtins.input", lambda *_: next(answers))
    transcript = tmp_path / "headless.jsonl"
    cli = Cli(monkeypatch, capsys, config(tmp_path), ScriptedLoader(*REPLIES))
    code, _, err = cli("run", str(script), "--json", "--approve", "ask", "--transcript", str(transcript), tty=True)
    assert code == 0, err
    assert next(answers, None) is None  # both questions were asked
    return transcript


async def tui_transcript(tmp_path: Path) -> Path:
    """The same messages typed into the TUI, answering each dialog with a key."""
    transcript = tmp_path / "tui.jsonl"
    app = make_app(tmp_path, config(tmp_path), ScriptedLoader(*REPLIES), transcript)
    answers = iter(KEYS)
    async with app.run_test() as pilot:
        await ready(pilot)
        for message in MESSAGES:
            await submit(pilot, message)
            if message.startswith("save"):
                await answer_dialog(pilot, *next(answers))
            await wait_until(pilot, lambda: not app.generating)
    return transcript


async def test_tui_and_headless_write_the_same_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    headless = comparable(headless_transcript(tmp_path / "a", monkeypatch, capsys))
    tui = comparable(await tui_transcript(tmp_path / "b"))
    kinds = [e["type"] for e in headless]
    assert kinds.count("turn") == len(MESSAGES)
    assert [e["approved"] for e in headless if e["type"] == "action_decision"] == [True, False]
    assert any(e["type"] == "notice" and e["kind"] == "context" for e in headless)  # it truncated
    assert [e["type"] for e in tui] == kinds
    for mine, theirs in zip(tui, headless, strict=True):
        assert mine == theirs
