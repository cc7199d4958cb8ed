"""Snapshots of the main screens (pytest-textual-snapshot). Update with --snapshot-update."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from chat import conversation as conv_file
from chat.conversation import Conversation, FinishReason, Reply, Turn
from chat.engine import Candidate, NextToken, Stage
from chat.history import History
from chat.sampling import Sampling
from chat.scripted_engine import ScriptedEngine
from chat.tui.app import ParleyApp
from chat.tui.conversation import MessageView
from chat.tui.screens import HistoryScreen
from chat.tui.widgets import PromptInput
from tests.chat.tui.helpers import make_app, ready, submit, wait_until
from tests.conftest import fake_config

SIZE = (100, 32)


def saved_conversation(tmp_path: Path) -> Path:
    params = Sampling(max_tokens=64)

    def reply(text: str, finish: FinishReason = "stop") -> Reply:
        return Reply(content=text, model="fake", params=params, finish_reason=finish,
                     prompt_tokens=10, completion_tokens=5, evaluated_prompt_tokens=10)  # fmt: skip

    conversation = Conversation(
        system="Be brief.",
        turns=[
            Turn(
                user="What is a token?",
                reply=reply("A **token** is a piece of text the model reads."),
                in_context=False,
            ),  # fmt: skip
            Turn(
                user="And the context window?",
                reply=reply("The number of tokens it can attend to:\n\n- prompt\n- reply"),
            ),
            Turn(user="Tell me a long story.", reply=reply("Once upon a time", "cancelled")),
        ],
    )
    path = tmp_path / "conversation.json"
    conv_file.save(path, conversation, "fake", params)
    return path


Before = Callable[[Pilot[None]], Awaitable[None]]
# pytest-textual-snapshot's fixture: compares a screenshot of the app with the stored SVG.
SnapCompare = Callable[..., bool]


def loaded_app(tmp_path: Path) -> tuple[ParleyApp, Before]:
    app = make_app(tmp_path, fake_config(tmp_path))
    path = saved_conversation(tmp_path)

    async def before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await submit(pilot, f"/load {path}")
        await wait_until(pilot, lambda: len(app.query(MessageView)) == 6)
        app.query_one(PromptInput).cursor_blink = False  # a blinking cursor makes the picture time-dependent
        for notice in app.query("#conversation > NoticeView"):
            await notice.remove()  # "loaded 3 turn(s)": keep the snapshot about the messages

    return app, before


def test_main_screen(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app, before = loaded_app(tmp_path)
    assert snap_compare(app, run_before=before, terminal_size=SIZE)


def test_help_screen(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app, before = loaded_app(tmp_path)

    async def run_before(pilot: Pilot[None]) -> None:
        await before(pilot)
        await submit(pilot, "/help")

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_context_panel(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app, before = loaded_app(tmp_path)

    async def run_before(pilot: Pilot[None]) -> None:
        await before(pilot)
        await submit(pilot, "/context")

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_conversation_list(snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")  # the list shows local times
    time.tzset()
    history = History(tmp_path / "data" / "history.db")
    saved = conv_file.load(saved_conversation(tmp_path))
    for title in ("What is a token?", "Bread rolls for a picnic", "Rivers of Europe"):
        conversation = saved.conversation.model_copy(deep=True)
        conversation.turns[0].user = title
        history.save(None, conversation, "fake", saved.params)
    db = sqlite3.connect(tmp_path / "data" / "history.db")
    for number, stamp in ((1, "2026-11-20T09:15"), (2, "2026-11-25T18:40"), (3, "2026-11-27T12:05")):
        db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (f"{stamp}:00+00:00", number))
    db.commit()
    history.close()
    app = make_app(tmp_path, fake_config(tmp_path))

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        app.query_one(PromptInput).cursor_blink = False
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        app.screen.query_one(Input).cursor_blink = False

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_branched_conversation(snap_compare: SnapCompare, tmp_path: Path) -> None:
    saved = conv_file.load(saved_conversation(tmp_path))
    conversation = saved.conversation
    conversation.fork(2)  # the second question was asked again, differently
    again = conversation.branches[0].turns[0].model_copy(update={"user": "And the context window, in short?"})
    again.created = again.created.replace(year=again.created.year + 1)  # the later version
    conversation.turns.append(again)
    path = tmp_path / "branched.json"
    conv_file.save(path, conversation, "fake", saved.params)
    app = make_app(tmp_path, fake_config(tmp_path))

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await submit(pilot, f"/load {path}")
        await wait_until(pilot, lambda: len(app.query(MessageView)) == 4)
        app.query_one(PromptInput).cursor_blink = False
        for notice in app.query("#conversation > NoticeView"):
            await notice.remove()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_next_token_chart(snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/probs 1 after "Tell me a short joke about a cat." (the README shows this picture). The
    numbers are the embedded model's, captured with `parley run --json` (probs_example.json):
    this test draws them, the integration tests check that they are llama.cpp's."""
    data = json.loads((Path(__file__).parent / "probs_example.json").read_text(encoding="utf-8"))
    stages = tuple(Stage(**{**s, "top": tuple(Candidate(**c) for c in s["top"])}) for s in data["stages"])
    found = NextToken(data["position"], stages, Candidate(**data["written"]))
    monkeypatch.setattr(ScriptedEngine, "next_token", lambda *args: found)
    params = Sampling(max_tokens=64)
    reply = Reply(content="How does a cat keep its secrets? It purrs.", model="fake", params=params,
                  finish_reason="stop", prompt_tokens=30, completion_tokens=12, evaluated_prompt_tokens=30)  # fmt: skip
    path = tmp_path / "joke.json"
    conv_file.save(
        path, Conversation(turns=[Turn(user="Tell me a short joke about a cat.", reply=reply)]), "fake", params
    )
    app = make_app(tmp_path, fake_config(tmp_path))

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        app.query_one(PromptInput).cursor_blink = False
        await submit(pilot, f"/load {path}")
        await wait_until(pilot, lambda: len(app.query(MessageView)) == 2)
        for notice in app.query("#conversation > NoticeView"):
            await notice.remove()
        await submit(pilot, "/probs 1")
        await wait_until(pilot, lambda: bool(app.query(".-probs")))

    assert snap_compare(app, run_before=run_before, terminal_size=(100, 40))
