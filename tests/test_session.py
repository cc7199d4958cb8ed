"""Session generation edge cases with the fake engine: failure and cancellation keep what was shown."""

from __future__ import annotations

import threading

import pytest

from chat.errors import ParleyError
from chat.fake_engine import FakeEngine
from chat.session import Session


def test_engine_failure_mid_stream_keeps_the_partial_reply(session: Session, engine: FakeEngine) -> None:
    engine.enqueue("One. Two. Three four")
    engine.fail_after = 3  # "One.", " ", "Two." streamed, then the engine fails
    shown: list[str] = []
    with pytest.raises(ParleyError, match="generation failed: fake engine failure"):
        session.send("go", shown.append)
    reply = session.conversation.turns[-1].reply
    assert reply is not None and reply.finish_reason == "error"
    # "Two." was still held back for moderation when the stream failed, so it was never shown
    assert reply.content == "".join(shown) == "One. "


def test_cancel_keeps_the_partial_reply_marked_cancelled(session: Session, engine: FakeEngine) -> None:
    engine.enqueue("A. B. C. D. E. F.")
    gate = threading.Event()
    engine.block = gate
    cancel = threading.Event()
    shown: list[str] = []

    def on_delta(text: str) -> None:
        shown.append(text)
        if len(shown) == 2:
            cancel.set()

    gate.set()
    result = session.send("go", on_delta, cancel)
    assert result.turn.reply is not None
    assert result.turn.reply.finish_reason == "cancelled"
    assert result.turn.reply.content == "A. B. "


def test_cancel_while_the_stream_is_blocked(session: Session, engine: FakeEngine) -> None:
    engine.enqueue("never shown")
    engine.block = threading.Event()  # never set: the stream waits until cancelled
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    result = session.send("go", cancel=cancel)
    assert result.turn.reply is not None and result.turn.reply.finish_reason == "cancelled"
    assert result.turn.reply.content == ""
