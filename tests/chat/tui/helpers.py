"""Helpers for TUI tests: build the app on the fake engine and wait on conditions, not sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from chat.config import Config
from chat.scripted_engine import ScriptedLoader
from chat.tui.app import ParleyApp
from chat.tui.widgets import PromptInput


def make_app(
    tmp_path: Path,
    config: Config,
    loader: ScriptedLoader | None = None,
    transcript: Path | None = None,
    history: bool = True,
) -> ParleyApp:
    return ParleyApp(
        config,
        loader or ScriptedLoader(),
        transcript_path=transcript,
        data_dir=tmp_path / "data",
        settings_file=tmp_path / "tui.json",
        history=history,
    )


async def wait_until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


async def ready(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, ParleyApp)
    await wait_until(pilot, lambda: app.session is not None and app.idle.is_set() and not app.loading)


async def submit(pilot: Pilot[None], text: str) -> None:

    prompt = pilot.app.query_one(PromptInput)
    prompt.load_text(text)
    await pilot.press("enter")
    await pilot.pause()


async def send(pilot: Pilot[None], text: str) -> None:
    """Submit `text` and wait until what it started (a reply, a command) is over."""
    app = pilot.app
    assert isinstance(app, ParleyApp)
    await submit(pilot, text)
    await wait_until(pilot, lambda: not app.generating)


async def answer_dialog(pilot: Pilot[None], *keys: str) -> None:
    """Wait for the Yes/No dialog and for its grace time (answers before it are ignored), then press."""
    from chat.tui.screens import ConfirmScreen

    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    await pilot.pause(ConfirmScreen.GRACE_S)
    await pilot.press(*keys)
