"""Context accounting with the fake engine: exact counts, truncation in chunks, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat.context import report
from chat.errors import ContextOverflowError
from chat.events import Notice, TurnDone, UserSent
from chat.pipeline import Pipeline
from chat.scripted_engine import ScriptedEngine, ScriptedLoader
from chat.session import Session
from tests.conftest import Recorder, fake_config

WORDS = " ".join(f"w{i}" for i in range(20))  # 39 tokens for the fake tokenizer


class Small:
    """A session with a 600-token window (or `n_ctx`), a pipeline on it, and its turn events."""

    def __init__(self, tmp_path: Path, overflow: str = "truncate", n_ctx: int = 600) -> None:
        self.session = Session(fake_config(tmp_path, n_ctx=n_ctx, overflow=overflow, max_tokens=50), ScriptedLoader())
        self.session.set_system("Be brief.")
        self.events = Recorder()
        self.pipeline = Pipeline(self.session, self.events)
        assert isinstance(self.session.engine, ScriptedEngine)
        self.engine = self.session.engine

    def send(self, text: str, reply: str | None = None) -> TurnDone:
        if reply is not None:
            self.engine.enqueue(reply)
        self.pipeline.send(text)
        done = self.events[-1]
        assert isinstance(done, TurnDone)
        return done


def test_report_adds_up_exactly(session: Session, pipeline: Pipeline) -> None:
    pipeline.send("first question")
    pipeline.send("second question")
    rep = session.context_report()
    engine = session.engine
    assert rep.used == engine.count_tokens(session.conversation.context_messages())
    history = engine.count_tokens(session.conversation.context_messages(), add_generation_prompt=False)
    assert rep.system_tokens + sum(t.tokens for t in rep.turns) == history
    assert rep.system_tokens == engine.count_tokens(session.conversation.system_messages(), False)
    assert rep.free == rep.n_ctx - rep.used - rep.reserved
    assert "turn 2" in rep.format()


def test_truncate_drops_oldest_turns_in_chunks(tmp_path: Path) -> None:
    small = Small(tmp_path)
    dropped_at = []
    for i in range(12):
        done = small.send(f"question {i} {WORDS}", WORDS)
        assert done.context_used <= 600
        if done.dropped:
            dropped_at.append((i, done.dropped))
    assert dropped_at, "the window never filled"
    # Each truncation frees a quarter of the window, so it drops several turns at once and not every turn.
    assert len(dropped_at) < 12 - dropped_at[0][0]
    assert any(len(d) >= 2 for _, d in dropped_at)
    rep = small.session.context_report()
    assert rep.used <= rep.n_ctx  # the next message will truncate again if needed
    out = [t.index for t in rep.turns if not t.in_context]
    assert out == list(range(1, len(out) + 1))  # oldest first, whole turns
    assert small.session.conversation.turns[-1].in_context
    messages = small.engine.calls[-1].messages
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith("Be brief.")  # it stays


def test_truncation_keeps_the_kv_prefix_between_truncations(tmp_path: Path) -> None:
    small = Small(tmp_path)
    evaluated = []
    for i in range(10):
        done = small.send(f"q{i} {WORDS}", WORDS)
        evaluated.append((bool(done.dropped), done.reply.evaluated_prompt_tokens))
    reused_turns = [e for dropped, e in evaluated[1:] if not dropped]
    assert reused_turns and all(e < 60 for e in reused_turns)  # only the new turn is evaluated


def test_error_policy_refuses_with_the_overflow(tmp_path: Path) -> None:
    small = Small(tmp_path, overflow="error")
    with pytest.raises(ContextOverflowError, match=r"over the 600-token window"):
        for i in range(12):
            small.send(f"question {i} {WORDS}")
    assert all(t.in_context for t in small.session.conversation.turns)


def test_message_that_cannot_fit_alone(tmp_path: Path) -> None:
    small = Small(tmp_path)
    with pytest.raises(ContextOverflowError, match="message too long"):
        small.send(" ".join(["word"] * 400))
    assert small.session.conversation.turns == []  # nothing recorded, nothing lost
    small.session.params = small.session.params.model_copy(update={"max_tokens": 590})
    with pytest.raises(ContextOverflowError, match="max_tokens 590 leaves no room"):  # a short message: not its fault
        small.send("hi")


def test_the_turns_dropped_are_told_before_the_reply_they_made_room_for(tmp_path: Path) -> None:
    small = Small(tmp_path)
    done = small.send(f"q0 {WORDS}", WORDS)
    while not done.dropped:
        start = len(small.events)
        done = small.send(f"q {WORDS}", WORDS)
    turn = small.events[start:]
    told = next(i for i, e in enumerate(turn) if isinstance(e, Notice) and e.kind == "context")
    notice = turn[told]
    assert isinstance(notice, Notice) and "moved out of context" in notice.text
    assert isinstance(turn[told + 1], UserSent)  # then the message, then its reply


def test_dropped_turns_stay_in_the_conversation(tmp_path: Path) -> None:
    small = Small(tmp_path)
    for i in range(10):
        small.send(f"q{i} {WORDS}")
    assert len(small.session.conversation.turns) == 10
    assert not small.session.conversation.turns[0].in_context
    rep = report(small.session.engine, small.session.conversation, 50)
    assert "out of context: turn(s) 1" in rep.format()


def test_continue_drops_the_oldest_turns_when_the_window_is_full(tmp_path: Path) -> None:
    small = Small(tmp_path)
    for i in range(5):
        small.send(f"q{i} {WORDS}", WORDS)
    small.engine.enqueue(" ".join(["more"] * 60))  # cut at max_tokens = 50
    small.send(f"q5 {WORDS}")
    turns = small.session.conversation.turns
    assert turns[-1].reply is not None and turns[-1].reply.finish_reason == "length"
    assert all(t.in_context for t in turns)
    small.session.params = small.session.params.model_copy(update={"max_tokens": 200})  # no room left for it
    small.engine.enqueue(" and the end.")
    small.pipeline.command("/continue")
    done = small.events[-1]
    assert isinstance(done, TurnDone) and done.dropped and done.context_used <= 600
    assert turns[-1].in_context and not turns[0].in_context  # the oldest went, the continued one stayed
    assert turns[-1].reply is not None and turns[-1].reply.content.endswith("and the end.")


def test_continue_refuses_when_the_policy_is_error_and_drops_nothing(tmp_path: Path) -> None:
    small = Small(tmp_path, overflow="error")
    for i in range(5):
        small.send(f"q{i} {WORDS}", WORDS)
    small.engine.enqueue(" ".join(["more"] * 60))
    small.send(f"q5 {WORDS}")
    small.session.params = small.session.params.model_copy(update={"max_tokens": 200})
    with pytest.raises(ContextOverflowError, match=r"no room to continue: .* 600-token window .*overflow"):
        small.pipeline.command("/continue")
    assert all(t.in_context for t in small.session.conversation.turns)
