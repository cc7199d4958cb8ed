"""Context accounting with the fake engine: exact counts, truncation in chunks, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat.context import report
from chat.errors import ContextOverflowError
from chat.session import Session
from tests.conftest import FakeLoader, fake_config

WORDS = " ".join(f"w{i}" for i in range(20))  # 39 tokens for the fake tokenizer


def small_session(tmp_path: Path, overflow: str = "truncate", n_ctx: int = 600) -> Session:
    session = Session(fake_config(tmp_path, n_ctx=n_ctx, overflow=overflow, max_tokens=50), FakeLoader())
    session.set_system("Be brief.")
    return session


def test_report_adds_up_exactly(session: Session) -> None:
    session.send("first question")
    session.send("second question")
    rep = session.context_report()
    engine = session.engine
    assert rep.used == engine.count_tokens(session.conversation.context_messages())
    history = engine.count_tokens(session.conversation.context_messages(), add_generation_prompt=False)
    assert rep.system_tokens + sum(t.tokens for t in rep.turns) == history
    assert rep.system_tokens == engine.count_tokens(session.conversation.system_messages(), False)
    assert rep.free == rep.n_ctx - rep.used - rep.reserved
    assert "turn 2" in rep.format()


def test_truncate_drops_oldest_turns_in_chunks(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    dropped_at = []
    for i in range(12):
        session.engine.enqueue(WORDS)  # type: ignore[attr-defined]
        result = session.send(f"question {i} {WORDS}")
        assert result.context_used <= 600
        if result.dropped:
            dropped_at.append((i, result.dropped))
    assert dropped_at, "the window never filled"
    # Each truncation frees a quarter of the window, so it drops several turns at once and not every turn.
    assert all(len(d) >= 1 for _, d in dropped_at)
    assert len(dropped_at) < 12 - dropped_at[0][0]
    rep = session.context_report()
    assert rep.used <= rep.n_ctx  # the next message will truncate again if needed
    out = [t.index for t in rep.turns if not t.in_context]
    assert out == list(range(1, len(out) + 1))  # oldest first, whole turns
    assert session.conversation.turns[-1].in_context
    messages = session.engine.calls[-1].messages  # type: ignore[attr-defined]
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith("Be brief.")  # it stays


def test_truncation_keeps_the_kv_prefix_between_truncations(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    evaluated = []
    for i in range(10):
        session.engine.enqueue(WORDS)  # type: ignore[attr-defined]
        result = session.send(f"q{i} {WORDS}")
        assert result.turn.reply is not None
        evaluated.append(
            (bool(result.dropped), result.turn.reply.evaluated_prompt_tokens, result.turn.reply.prompt_tokens)
        )
    reused_turns = [e for d, e, p in evaluated[1:] if not d]
    assert reused_turns and all(e < 60 for e in reused_turns)  # only the new turn is evaluated


def test_error_policy_refuses_with_the_overflow(tmp_path: Path) -> None:
    session = small_session(tmp_path, overflow="error")
    with pytest.raises(ContextOverflowError, match=r"over the 600-token window"):
        for i in range(12):
            session.send(f"question {i} {WORDS}")
    assert all(t.in_context for t in session.conversation.turns)


def test_message_that_cannot_fit_alone(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    huge = " ".join(["word"] * 400)
    with pytest.raises(ContextOverflowError, match="message too long"):
        session.send(huge)
    assert session.conversation.turns == []  # nothing recorded, nothing lost


def test_dropped_turns_stay_in_the_transcript(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    for i in range(10):
        session.send(f"q{i} {WORDS}")
    assert len(session.conversation.turns) == 10
    assert not session.conversation.turns[0].in_context
    rep = report(session.engine, session.conversation, 50)
    assert "out of context: turn(s) 1" in rep.format()
