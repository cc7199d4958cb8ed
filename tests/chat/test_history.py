"""The history database: saved as it happens, searched, shown, migrated from conversation files,
shared by two processes, and a damaged one never stops a chat."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import platformdirs
import pytest

from chat import conversation as conv_file
from chat.config import APP_NAME
from chat.conversation import ActionRecord, Conversation, GuardRecord, ModerationRecord, Reply, Turn
from chat.history import MIGRATIONS, SCHEMA_VERSION, History, HistoryError, Recorder, open_history, statements
from chat.pipeline import Pipeline
from chat.sampling import Sampling
from chat.session import Session
from moderation.verdict import Verdict
from tests.conftest import Cli, json_events

ROOT = Path(__file__).resolve().parents[2]


WARNED = Verdict(decision="warn", scores={"profanity": 1.0}, flagged=("profanity",), backend="contextual",
                 latency_s=0.01)  # fmt: skip


def reply(text: str) -> Reply:
    return Reply(content=text, model="fake", params=Sampling(temperature=0.2, seed=7), finish_reason="stop",
                 prompt_tokens=12, completion_tokens=4, evaluated_prompt_tokens=3,
                 moderation=ModerationRecord(decision="warn", backend="contextual", flagged=[WARNED]),
                 guard=GuardRecord(problems=["unreadable"]))  # fmt: skip


def a_conversation(*users: str) -> Conversation:
    return Conversation(system="Be brief.", prompt_name="concise",
                        turns=[Turn(user=u, reply=reply(f"answer to {u}")) for u in users])  # fmt: skip


def test_a_conversation_comes_back_exactly_as_it_was_saved(tmp_path: Path) -> None:
    history = History(tmp_path / "h.db")
    conversation = a_conversation("first question", "second question")
    conversation.turns[0].in_context = False
    conversation.turns[1].actions.append(
        ActionRecord(name="save_note", arguments={"text": "x"}, risk="writes", approved=True, ok=True, result="saved")
    )
    number = history.save(None, conversation, "fake", Sampling(top_k=7))
    saved = history.load(number)
    assert saved.conversation == conversation and saved.model == "fake" and saved.params == Sampling(top_k=7)


def test_later_saves_replace_the_turns_and_clear_starts_a_new_conversation(session: Session, tmp_path: Path) -> None:
    history = History(tmp_path / "h.db")
    session.history = Recorder(history)
    pipeline = Pipeline(session)
    pipeline.send("one")
    pipeline.send("two")
    pipeline.command("/undo")
    (entry,) = history.entries()
    assert entry.turns == 1 and entry.title == "one"
    pipeline.command("/clear")
    pipeline.send("three")
    assert [(e.title, e.turns) for e in history.entries()] == [("three", 1), ("one", 1)]


def test_search_finds_words_in_messages_and_replies_and_reads_no_query_syntax(tmp_path: Path) -> None:
    history = History(tmp_path / "h.db")
    first = history.save(None, a_conversation("How do I bake bread?"), "fake", Sampling())
    second = history.save(None, a_conversation("Tell me about rivers", "and bread rolls?"), "fake", Sampling())
    assert [e.id for e in history.search("bread")] == [second, first]  # the latest first
    assert [e.id for e in history.search("answer rivers")] == [second]  # every word, anywhere in a turn
    assert history.search("bread")[0].match == "and [bread] rolls?"
    for text in ['"', "bread OR", "NEAR(", "rivers*", "-bread"]:  # FTS5 operators are plain words here
        history.search(text)
    history.rename(first, "Sourdough Notes")  # a title the user gave is searched too
    assert [(e.id, e.match) for e in history.search("sourdough notes")] == [(first, "Sourdough Notes")]


def test_the_list_is_newest_first_and_a_title_can_be_set(tmp_path: Path) -> None:
    history = History(tmp_path / "h.db")
    old = history.save(None, a_conversation("old " + "long " * 30), "fake", Sampling())
    new = history.save(None, a_conversation("new"), "fake", Sampling())
    history.rename(old, "Renamed")
    assert [(e.id, e.title) for e in history.entries()] == [(new, "new"), (old, "Renamed")]
    history.save(old, a_conversation("old"), "fake", Sampling())  # saving again moves it to the top
    assert [e.id for e in history.entries()] == [old, new]
    history.delete(new)
    assert [e.id for e in history.entries()] == [old]
    with pytest.raises(HistoryError, match="no conversation 99"):
        history.delete(99)


def test_conversation_files_from_before_the_history_are_imported_once(tmp_path: Path) -> None:
    folder = tmp_path / "conversations"
    conv_file.save(folder / "autosave-1.json", a_conversation("from an autosave"), "fake", Sampling())
    (folder / "broken.json").write_text("{not json")
    history = open_history(tmp_path / "history.db")
    assert [e.title for e in history.entries()] == ["from an autosave"]
    history.close()
    assert len(open_history(tmp_path / "history.db").entries()) == 1  # not again


WRITER = textwrap.dedent(
    """
    import sys
    from chat.conversation import Conversation, Reply, Turn
    from chat.history import History
    from chat.sampling import Sampling
    history = History(__import__("pathlib").Path(sys.argv[1]))
    for n in range(25):
        reply = Reply(content="r", model="m", params=Sampling(), finish_reason="stop", prompt_tokens=1,
                      completion_tokens=1, evaluated_prompt_tokens=1)
        turns = [Turn(user=f"{sys.argv[2]} {n} {k}", reply=reply) for k in range(3)]
        history.save(None, Conversation(turns=turns), "m", Sampling())
    """
)


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    History(path).close()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name], cwd=ROOT) for name in ("a", "b")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    entries = History(path).entries(limit=100)
    assert len(entries) == 50 and all(e.turns == 3 for e in entries)
    assert {e.title.split()[0] for e in entries} == {"a", "b"}


def test_a_damaged_or_newer_database_is_one_clear_error(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryError, match="cannot be used: file is not a database"):
        History(damaged)
    newer = tmp_path / "newer.db"
    sqlite3.connect(newer).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryError, match="from a newer Parley"):
        History(newer)


def test_a_locked_database_turns_the_history_off_and_the_chat_goes_on(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    session.history = Recorder(History(path, timeout=0.1))
    events: list[object] = []
    pipeline = Pipeline(session, events.append)
    pipeline.send("one")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holds it
    pipeline.send("two")
    pipeline.send("three")
    other.execute("ROLLBACK")
    notices = [e for e in events if getattr(e, "kind", "") == "history"]
    assert len(notices) == 1 and "history off for this session" in notices[0].text  # type: ignore[attr-defined]
    assert [t.user for t in session.conversation.turns] == ["one", "two", "three"]


def test_headless_runs_are_saved_and_parley_history_shows_them(run: Cli) -> None:
    assert run("ask", "the first question")[0] == 0
    assert run("ask", "--no-history", "a private one")[0] == 0
    assert run("ask", "bread and butter")[0] == 0
    code, out, _ = run("history")
    assert code == 0 and "bread and butter" in out and "the first question" in out and "private" not in out
    code, out, _ = run("history", "search", "bread", "--json")
    (hit,) = json_events(out)
    assert hit["title"] == "bread and butter" and "[bread]" in hit["match"]
    code, out, _ = run("history", "show", str(hit["id"]))
    assert code == 0 and "bread and butter" in out and out.startswith("# Conversation with fake")
    code, out, _ = run("history", "export", str(hit["id"]))
    assert code == 0 and conv_file.SavedConversation.model_validate_json(out).conversation.turns[0].user == (
        "bread and butter"
    )
    assert run("history", "delete", str(hit["id"]))[0] == 0
    code, _, err = run("history", "show", str(hit["id"]))
    assert code == 1 and err.strip() == f"parley: error: no conversation {hit['id']} in the history"
    code, _, err = run("history", "show", "abc")
    assert code == 2 and "takes one conversation id" in err


def test_a_damaged_history_is_a_warning_and_the_answer_still_comes(run: Cli) -> None:
    path = Path(platformdirs.user_data_dir(APP_NAME)) / "history.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage" * 500)
    code, out, err = run("ask", "hello")
    assert code == 0 and out == "You said: hello\n"
    assert err.count("\n") == 1 and "not saved in the history" in err and "Traceback" not in err
    assert path.read_bytes() == b"garbage" * 500  # nothing of it lost or overwritten


def test_history_open_and_title_are_commands_in_every_front_end(run: Cli, tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("bread rolls\n\n/clear\n\nrivers of Europe\n\n/title Rivers\n\n/history\n\n/history bread\n\n"
                      "/open 1\n\nand butter\n\n/title\n")  # fmt: skip
    code, out, _ = run("run", str(script), "--json")
    (error,) = json_events(out, "error")
    assert code == 2 and "usage: /title TEXT" in error["error"]  # the last line; everything before it ran
    commands = json_events(out, "command")
    listing, searched, opened = (c["output"] for c in commands[2:5])
    assert listing.splitlines()[0].endswith("Rivers") and "bread rolls" in listing.splitlines()[1]
    assert "[bread] rolls" in searched and "Rivers" not in searched
    assert opened == "opened conversation 1: 1 turn(s)"
    saved = History(Path(platformdirs.user_data_dir(APP_NAME)) / "history.db")
    assert [(e.title, e.turns) for e in saved.entries()] == [("bread rolls", 2), ("Rivers", 1)]


def test_without_a_history_the_commands_say_so(run: Cli, tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("/history\n")
    code, _, err = run("run", "--no-history", str(script))
    assert code == 2 and "the history is off" in err


def test_a_database_of_the_first_schema_is_migrated_and_keeps_its_conversations(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    old = sqlite3.connect(path, isolation_level=None)
    for statement in statements(MIGRATIONS[0]):  # as the first Parley with a history left it
        old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO conversations (created, updated, model, params, system) VALUES (?, ?, 'm', ?, '')",
                ("2026-11-01T10:00:00+00:00", "2026-11-01T10:00:00+00:00", Sampling().model_dump_json()))  # fmt: skip
    turn = Turn(user="from the old schema", reply=reply("kept"))
    old.execute("INSERT INTO turns (conversation_id, number, user, reply, data) VALUES (1, 1, ?, 'kept', ?)",
                (turn.user, turn.model_dump_json()))  # fmt: skip
    old.close()
    history = History(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    saved = history.load(1)
    assert saved.conversation.turns == [turn] and saved.conversation.branches == []
    assert history.search("schema")[0].id == 1
    conversation = saved.conversation
    conversation.summary = "a summary"
    conversation.fork(1)
    conversation.turns.append(Turn(user="edited"))
    history.save(1, conversation, "m", Sampling())
    again = history.load(1).conversation
    assert again.summary == "a summary" and again.branches[0].turns == [turn] and again.turns[0].user == "edited"
