"""The turn pipeline with the fake engine: what a turn emits, failures and cancellation keep what
was shown, and who answers action requests."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import platformdirs
import pytest

from chat import commands
from chat.commands import execute
from chat.errors import CommandError, ParleyError
from chat.events import ActionDecided, ActionDone, Compacted, Event, Notice, TextShown, TurnDone
from chat.pipeline import SUMMARY_PROMPT, ApprovalPolicy, Pipeline, Question
from chat.scripted_engine import ScriptedEngine, ScriptedLoader
from chat.session import Session
from chat.transcript import Transcript
from tests.conftest import Recorder, fake_config

SAVE = 'Sure. <action>{"name": "save_note", "arguments": {"text": "buy milk"}}</action>'


def notes_file() -> Path:
    return Path(platformdirs.user_data_dir("parley")) / "notes.md"


def action_pipeline(tmp_path: Path, *replies: str, **kwargs: object) -> tuple[Pipeline, Recorder]:
    session = Session(fake_config(tmp_path, actions="enabled = true"), ScriptedLoader(*replies))
    events = Recorder()
    return Pipeline(session, events, **kwargs), events  # type: ignore[arg-type]


def test_a_turn_streams_shown_text_then_reports_the_turn(pipeline: Pipeline, events: Recorder) -> None:
    turn = pipeline.send("hello")
    assert events.types()[0] == "user" and events.types()[-1] == "turn"
    shown = "".join(e.text for e in events if isinstance(e, TextShown))
    assert shown == turn.reply.content == "You said: hello"  # type: ignore[union-attr]
    done = events[-1]
    assert isinstance(done, TurnDone) and done.turn is turn and done.dropped == []


def test_the_transcript_gets_every_event_but_streamed_text(session: Session, tmp_path: Path) -> None:
    transcript = Transcript(tmp_path / "t.jsonl")
    pipeline = Pipeline(session, transcript=transcript)
    pipeline.start()
    pipeline.send("hi")
    pipeline.command("/temp 0.2")
    transcript.close()
    kinds = [json.loads(line)["type"] for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert kinds == ["session", "user", "turn", "command"]


def test_engine_failure_mid_stream_keeps_the_partial_reply(
    pipeline: Pipeline, engine: ScriptedEngine, events: Recorder
) -> None:
    engine.enqueue("One. Two. Three four")
    engine.fail_after = 3  # "One.", " ", "Two." streamed, then the engine fails
    with pytest.raises(ParleyError, match="generation failed: scripted engine failure"):
        pipeline.send("go")
    reply = pipeline.session.conversation.turns[-1].reply
    assert reply is not None and reply.finish_reason == "error"
    # "Two." was still held back for moderation when the stream failed, so it was never shown
    shown = "".join(e.text for e in events if isinstance(e, TextShown))
    assert reply.content == shown == "One. "
    assert reply.completion_tokens == 3  # tokens the model produced, not pieces shown
    # the failed turn is recorded like any other, then the error
    assert events.types()[-3:] == ["notice", "turn", "error"]
    assert events[-3] == Notice("finish", "the reply failed part-way (what came is kept)", "error")


def test_cancel_keeps_the_partial_reply_marked_cancelled(pipeline: Pipeline, engine: ScriptedEngine) -> None:
    engine.enqueue("A. B. C. D. E. F.")
    cancel = threading.Event()
    shown: list[str] = []

    def on_event(event: object) -> None:
        if isinstance(event, TextShown):
            shown.append(event.text)
            if len(shown) == 2:
                cancel.set()

    pipeline.on_event = on_event
    turn = pipeline.send("go", cancel)
    assert turn.reply is not None and turn.reply.finish_reason == "cancelled"
    assert turn.reply.content == "A. B. "


def test_cancel_while_the_stream_is_blocked(pipeline: Pipeline, engine: ScriptedEngine) -> None:
    engine.enqueue("never shown")
    engine.block = threading.Event()  # never set: the stream waits until cancelled
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    turn = pipeline.send("go", cancel)
    assert turn.reply is not None and turn.reply.finish_reason == "cancelled" and turn.reply.content == ""


def test_a_message_that_cannot_fit_records_nothing(tmp_path: Path) -> None:
    session = Session(fake_config(tmp_path, n_ctx=200, max_tokens=40), ScriptedLoader())
    events = Recorder()
    with pytest.raises(ParleyError, match="message too long"):
        Pipeline(session, events).send(" ".join(["word"] * 200))
    assert session.conversation.turns == [] and events.types() == ["error"]


@pytest.mark.parametrize(
    ("policy", "asked", "expected"),
    [
        (ApprovalPolicy("never"), None, (False, "policy")),
        (ApprovalPolicy("always"), None, (True, "policy")),
        (ApprovalPolicy("ask"), True, (True, "user")),
        (ApprovalPolicy("ask"), False, (False, "user")),
    ],
)
def test_who_answers_an_action_request(
    tmp_path: Path, policy: ApprovalPolicy, asked: bool | None, expected: tuple[bool, str]
) -> None:
    questions: list[Question] = []

    def ask(question: Question) -> bool:
        questions.append(question)
        assert asked is not None
        return asked

    pipeline, events = action_pipeline(tmp_path, SAVE, policy=policy, ask=ask if asked is not None else None)
    turn = pipeline.send("save it")
    (decision,) = [e for e in events if isinstance(e, ActionDecided)]
    assert (decision.approved, decision.decided_by) == expected
    assert (turn.actions[0].approved, turn.actions[0].decided_by) == expected
    assert notes_file().exists() == expected[0]
    assert len(questions) == (asked is not None)
    if questions:
        assert "save_note" in questions[0].title and "buy milk" in questions[0].details
    order = events.types()
    assert order.index("action_request") < order.index("action_decision") < order.index("turn")
    assert ("action_result" in order) == expected[0]  # a result only for what ran


def test_a_policy_decline_is_not_called_the_users(tmp_path: Path) -> None:
    pipeline, _ = action_pipeline(tmp_path, SAVE, "ok", policy=ApprovalPolicy("never"))
    turn = pipeline.send("save it")
    assert turn.actions[0].result == "declined (--approve never)"
    pipeline.send("and then?")
    told = pipeline.session.engine.calls[1].messages[-2]["content"]  # type: ignore[attr-defined]
    assert "save_note: the approval policy declined; it did not run." in told


def test_without_anyone_to_ask_the_request_waits_for_approve(tmp_path: Path) -> None:
    pipeline, events = action_pipeline(tmp_path, SAVE)
    pipeline.send("save it")
    assert [r.action.name for r in pipeline.session.pending] == ["save_note"]
    assert any(isinstance(e, Notice) and e.text.startswith("action waiting for /approve") for e in events)
    turn_event = [e for e in events if isinstance(e, TurnDone)][0]
    assert turn_event.reply.guard.pending == ["save_note"]
    pipeline.command("/approve")
    assert "buy milk" in notes_file().read_text()
    assert events.types()[-4:] == ["command", "action_decision", "action_result", "notice"]
    assert pipeline.session.conversation.turns[-1].actions[0].decided_by == "user"
    with pytest.raises(ParleyError, match="no action is waiting"):
        pipeline.command("/deny")


def test_a_failing_action_is_a_recorded_result_not_a_crash(tmp_path: Path) -> None:
    export = 'Ok. <action>{"name": "export_conversation", "arguments": {"path": "x.txt"}}</action>'
    pipeline, events = action_pipeline(tmp_path, export, policy=ApprovalPolicy("always"))
    turn = pipeline.send("export it")
    (record,) = turn.actions
    assert record.approved and not record.ok and "use a .md or .json file name" in record.result
    (done,) = [e for e in events if isinstance(e, ActionDone)]
    assert done.record == record
    assert events.types()[-1] == "turn"


def test_a_claim_notice_follows_its_sentence_while_the_reply_streams(tmp_path: Path) -> None:
    reply = "Done. I've re-booked your slot for Monday. Anything else I can help with today? Have a lovely weekend."
    pipeline, events = action_pipeline(tmp_path, reply)
    pipeline.send("move my slot")
    notices = [i for i, e in enumerate(events) if isinstance(e, Notice) and e.kind == "guard"]
    shown = [i for i, e in enumerate(events) if isinstance(e, TextShown)]
    assert len(notices) == 1  # told once: not again when the turn ends
    assert shown[0] < notices[0] < shown[-1]  # before the rest of the reply was shown
    text_before = "".join(e.text for e in events[: notices[0]] if isinstance(e, TextShown))
    assert "Monday." in text_before


def test_continue_goes_on_with_a_reply_cut_at_max_tokens(tmp_path: Path) -> None:
    loader = ScriptedLoader("one two three four five six seven eight nine ten", " eleven twelve.")
    session = Session(fake_config(tmp_path, max_tokens=8), loader)
    events = Recorder()
    pipeline = Pipeline(session, events)
    with pytest.raises(ParleyError, match="no reply to continue"):
        pipeline.command("/continue")
    pipeline.send("count")
    first = session.conversation.turns[-1].reply
    assert first is not None and first.finish_reason == "length"
    events.clear()
    pipeline.command("/continue")
    (turn,) = session.conversation.turns  # the same turn, longer
    assert turn.reply is not None and turn.reply.content == first.content + " eleven twelve."
    assert turn.reply.finish_reason == "stop" and turn.reply.completion_tokens > first.completion_tokens
    assert events.types()[:2] == ["command", "continue"] and events.types()[-1] == "turn"
    call = loader.engines[0].calls[-1]
    assert call.messages[-1] == {"role": "assistant", "content": first.content}  # it goes on from its own text
    with pytest.raises(ParleyError, match="was not cut short"):
        pipeline.command("/continue")


def test_compact_replaces_the_oldest_turns_with_the_models_summary(tmp_path: Path) -> None:
    loader = ScriptedLoader("Paris.", "Madrid.", "Rome.", "The user asked for the capitals of France and Spain.")
    session = Session(fake_config(tmp_path), loader)
    events = Recorder()
    pipeline = Pipeline(session, events)
    for question in ("Capital of France?", "Of Spain?", "Of Italy?"):
        pipeline.send(question)
    pipeline.command("/compact 1")
    summary_call = loader.engines[0].calls[-1]
    assert summary_call.messages[0]["content"] == SUMMARY_PROMPT
    assert "User: Of Spain?\nAssistant: Madrid." in summary_call.messages[1]["content"]
    assert "Italy" not in summary_call.messages[1]["content"]  # the kept turn is not summarised
    conversation = session.conversation
    assert [t.in_context for t in conversation.turns] == [False, False, True]  # kept, out of the window
    assert conversation.summary == "The user asked for the capitals of France and Spain."
    assert conversation.summary in conversation.context_messages()[0]["content"]
    (compacted,) = [e for e in events if isinstance(e, Compacted)]
    assert compacted.turns == [1, 2] and "turns 1-2 are now out of context" in compacted.text()
    with pytest.raises(ParleyError, match="nothing to compact"):
        pipeline.command("/compact 1")


def test_a_summary_that_moderation_blocks_compacts_nothing(tmp_path: Path) -> None:
    loader = ScriptedLoader("one", "two", "You are a worthless idiot and everyone hates you.")
    session = Session(fake_config(tmp_path), loader)
    pipeline = Pipeline(session)
    pipeline.send("a")
    pipeline.send("b")
    with pytest.raises(ParleyError, match="no summary written"):
        pipeline.command("/compact 1")
    assert all(t.in_context for t in session.conversation.turns) and session.conversation.summary == ""


def test_overflow_compact_summarises_instead_of_dropping(tmp_path: Path) -> None:
    loader = ScriptedLoader(*["word " * 60] * 12)
    config = fake_config(tmp_path, n_ctx=600, max_tokens=150, overflow="compact")
    session = Session(config, loader)
    events = Recorder()
    pipeline = Pipeline(session, events)
    for n in range(6):
        pipeline.send(f"question {n} " + "detail " * 20)
    (compacted, *_) = [e for e in events if isinstance(e, Compacted)]  # the window filled: summarised
    calls = loader.engines[0].calls
    assert any(call.messages[0]["content"] == SUMMARY_PROMPT for call in calls)
    assert session.conversation.summary and len(session.conversation.turns) == 6
    assert not any(session.conversation.turns[n - 1].in_context for n in compacted.turns)


def test_edit_keeps_what_followed_as_a_branch_and_branch_switches_back(tmp_path: Path) -> None:
    loader = ScriptedLoader("A1", "A2", "A3", "B2", "B3")
    session = Session(fake_config(tmp_path), loader)
    pipeline = Pipeline(session)
    for question in ("q1", "q2", "q3"):
        pipeline.send(question)
    pipeline.command("/edit 2 q2, said better")
    conversation = session.conversation
    assert [t.user for t in conversation.turns] == ["q1", "q2, said better"]
    assert [m["content"] for m in loader.engines[0].calls[-1].messages if m["role"] == "user"] == [
        "q1",
        "q2, said better",
    ]
    pipeline.send("q3 again")
    assert commands.execute(session, "/branch").text == "turn 2: version 2 of 2"
    pipeline.command("/branch 2 1")  # the first version, with its third turn
    assert [t.user for t in conversation.turns] == ["q1", "q2", "q3"]
    assert [t.reply.content for t in conversation.turns if t.reply] == ["A1", "A2", "A3"]
    pipeline.command("/branch 2 next")
    assert [t.user for t in conversation.turns] == ["q1", "q2, said better", "q3 again"]
    bad_lines = [("/edit 9 x", "no message 9"), ("/edit 2", "usage: /edit"), ("/branch 1", "no branch at turn 1"),
                 ("/branch 2 7", "no version 7")]  # fmt: skip
    for bad, message in bad_lines:
        with pytest.raises(ParleyError, match=message):
            pipeline.command(bad)


def test_clear_starts_a_conversation_with_nothing_of_the_old_one(tmp_path: Path) -> None:
    loader = ScriptedLoader("A1", "B1", "summary of it", "C1")
    session = Session(fake_config(tmp_path), loader)
    pipeline = Pipeline(session)
    pipeline.send("Say apple.")
    pipeline.command("/edit 1 Say banana.")
    session.conversation.summary = "the user wanted fruit"  # as /compact leaves it
    system = session.conversation.system
    pipeline.command("/clear")
    pipeline.send("Say cherry.")
    conversation = session.conversation
    assert [t.user for t in conversation.turns] == ["Say cherry."] and conversation.system == system
    assert conversation.branches == [] and conversation.summary == ""  # no versions, no old summary
    assert commands.execute(session, "/branch").text.startswith("no ")
    assert all("fruit" not in m["content"] for m in conversation.context_messages())


def test_compare_asks_the_last_message_again_under_each_setting(tmp_path: Path) -> None:
    """Moderated and checked for claims like any reply, with the same seed, and not kept."""
    from chat.events import Compared
    from tests.conftest import moderated_config

    loader = ScriptedLoader("Hello.", "Sure. You are a fucking idiot. Bye.", "I've booked a table for two.")
    session = Session(moderated_config(tmp_path, 'backend = "offline"'), loader)
    events: list[Event] = []
    pipeline = Pipeline(session, events.append)
    pipeline.send("hi")
    before = session.conversation.model_copy(deep=True)
    pipeline.command("/compare temp=0.2 temp=1.2,top_k=0")
    (compared,) = [e for e in events if isinstance(e, Compared)]
    first, second = compared.replies
    assert compared.user == "hi" and session.conversation == before
    assert "⟦removed: toxicity⟧" in first.reply.content and "idiot" not in first.reply.content
    assert second.claims and second.claims[0].verb == "booked"
    assert (first.reply.params.temperature, second.reply.params.temperature, second.reply.params.top_k) == (0.2, 1.2, 0)
    assert first.reply.params.seed == second.reply.params.seed is not None  # the same seed for all
    calls = loader.engines[0].calls[-2:]
    assert calls[0].messages == calls[1].messages == session.conversation.last_prompt()
    fields = compared.to_json()
    assert fields["type"] == "compare" and fields["replies"][1]["claims"][0]["verb"] == "booked"


@pytest.mark.parametrize(
    ("line", "message"),
    [("/compare temp=0.2", "usage: /compare A B"), ("/compare temp=0.2 tmp=1", "unknown parameter 'tmp'"),
     ("/compare temp=0.2 top_k", "expected NAME=VALUE")],
)  # fmt: skip
def test_compare_usage_errors(tmp_path: Path, line: str, message: str) -> None:
    session = Session(fake_config(tmp_path), ScriptedLoader("Hello."))
    Pipeline(session, lambda e: None).send("hi")
    with pytest.raises(CommandError, match=message):
        execute(session, line)


def test_a_reply_records_the_seed_it_was_drawn_with(pipeline: Pipeline, engine: ScriptedEngine) -> None:
    assert pipeline.session.params.seed is None  # "random": a new seed for every reply
    engine.enqueue("One.", "Two.")
    first, second = pipeline.send("a"), pipeline.send("b")
    assert first.reply is not None and second.reply is not None
    seeds = [first.reply.params.seed, second.reply.params.seed]
    assert None not in seeds and seeds[0] != seeds[1]
    assert [call.params.seed for call in engine.calls] == seeds  # the engine was given the recorded seed
