"""Every conversation in one SQLite database, saved as it happens (the standard library's sqlite3,
as llm, oterm and elia keep theirs): listed newest first, searched with FTS5, shown, exported,
renamed and deleted. `parley history` and the TUI read it; the JSONL transcript stays the event
log.

A conversation is a row with its settings; each turn a row with the user's message, the reply's
text and the whole turn as JSON (parameters, moderation verdicts, guard findings, actions), so
a conversation comes back exactly as it was. WAL mode and a busy timeout let two Parley
processes write at once; `PRAGMA user_version` is the schema version, and MIGRATIONS take an
older database forward.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs

from chat.config import APP_NAME
from chat.conversation import Branch, Conversation, SavedConversation, Turn, now
from chat.conversation import load as load_conversation
from chat.errors import ParleyError
from chat.sampling import Sampling
from chat.sanitize import clean

# Each entry takes the database from version N to N + 1.
MIGRATIONS = [
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT,                 -- set by the user; NULL: the first message stands for it
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        model TEXT NOT NULL,
        params TEXT NOT NULL,       -- Sampling as JSON
        system TEXT NOT NULL,
        prompt_name TEXT
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,    -- 1-based, as the user sees it
        user TEXT NOT NULL,
        reply TEXT NOT NULL,
        data TEXT NOT NULL,         -- the whole Turn as JSON
        UNIQUE (conversation_id, number)
    );
    CREATE VIRTUAL TABLE turns_search USING fts5(user, reply, content='turns', content_rowid='id');
    CREATE TRIGGER turns_added AFTER INSERT ON turns BEGIN
        INSERT INTO turns_search(rowid, user, reply) VALUES (new.id, new.user, new.reply);
    END;
    CREATE TRIGGER turns_removed AFTER DELETE ON turns BEGIN
        INSERT INTO turns_search(turns_search, rowid, user, reply) VALUES ('delete', old.id, old.user, old.reply);
    END;
    """,
    """
    ALTER TABLE conversations ADD COLUMN summary TEXT NOT NULL DEFAULT '';   -- /compact
    ALTER TABLE conversations ADD COLUMN branches TEXT NOT NULL DEFAULT '[]'; -- /edit: list of Branch as JSON
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class HistoryError(ParleyError):
    """The history database cannot be used (corrupt, locked, unwritable, from a newer Parley)."""


@dataclass(frozen=True)
class Entry:
    """A conversation as the list shows it."""

    id: int
    title: str
    updated: datetime
    model: str
    turns: int
    match: str = ""  # for a search: the matching text, the match in [brackets]


class History:
    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        """`timeout`: how long a write waits for another process's write to end."""
        self.path = path
        self._lock = threading.Lock()  # one connection, used from the UI and the generation threads
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except (OSError, sqlite3.Error) as err:
            raise self._error(err) from None
        if version > SCHEMA_VERSION:
            raise HistoryError(f"history {clean(str(path))} is from a newer Parley (schema {version}; this one "
                               f"reads up to {SCHEMA_VERSION})")  # fmt: skip
        while version < SCHEMA_VERSION:
            with self._writing() as db:
                version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
                if version < SCHEMA_VERSION:
                    for statement in statements(MIGRATIONS[version]):  # all in this transaction, or none
                        db.execute(statement)
                    version += 1
                    db.execute(f"PRAGMA user_version = {version}")

    def _error(self, err: Exception) -> HistoryError:
        return HistoryError(f"history {clean(str(self.path))} cannot be used: {clean(str(err))}")

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. BEGIN IMMEDIATE: another process's writer waits (up to the busy
        timeout) instead of failing halfway; on any error nothing of it stays."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.rollback()
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                if self._db.in_transaction:
                    self._db.rollback()
                raise self._error(err) from None

    def _read(self, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as err:
                raise self._error(err) from None

    # --- writing ----------------------------------------------------------------------------

    def save(self, conversation_id: int | None, conversation: Conversation, model: str, params: Sampling) -> int:
        """Save the whole conversation (as a new one when `conversation_id` is None, or was
        deleted meanwhile: from the list, or by another Parley); its id."""
        stamp = now().isoformat()
        branches = json.dumps([b.model_dump(mode="json") for b in conversation.branches])
        settings = (model, params.model_dump_json(), conversation.system, conversation.prompt_name,
                    conversation.summary, branches)  # fmt: skip
        with self._writing() as db:
            if conversation_id is None or not db.execute(
                "UPDATE conversations SET updated = ?, model = ?, params = ?, system = ?, prompt_name = ?, "
                "summary = ?, branches = ? WHERE id = ?", (stamp, *settings, conversation_id),
            ).rowcount:  # fmt: skip
                conversation_id = db.execute(
                    "INSERT INTO conversations (created, updated, model, params, system, prompt_name, summary, "
                    "branches) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (stamp, stamp, *settings),
                ).lastrowid  # fmt: skip
            # Earlier turns change too (/undo, /retry, dropped from the window): all are written anew.
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            db.executemany(
                "INSERT INTO turns (conversation_id, number, user, reply, data) VALUES (?, ?, ?, ?, ?)",
                [(conversation_id, number, turn.user, turn.reply.content if turn.reply else "", turn.model_dump_json())
                 for number, turn in enumerate(conversation.turns, start=1)],
            )  # fmt: skip
        assert conversation_id is not None
        return conversation_id

    def rename(self, conversation_id: int, title: str) -> None:
        with self._writing() as db:
            if not db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id)).rowcount:
                raise HistoryError(f"no conversation {conversation_id} in the history")

    def delete(self, conversation_id: int) -> None:
        with self._writing() as db:
            if not db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount:
                raise HistoryError(f"no conversation {conversation_id} in the history")

    def import_file(self, saved: SavedConversation) -> int:
        """Add a conversation read from a conversation file (an autosave); its id."""
        return self.save(None, saved.conversation, saved.model, saved.params)

    # --- reading ----------------------------------------------------------------------------

    def search(self, text: str, limit: int = 100) -> list[Entry]:
        """Conversations whose title, or one of whose turns, holds every word of `text`, the
        latest first, each with its best matching text."""
        words = " ".join('"' + word.replace('"', '""') + '"' for word in text.split())  # words, not FTS syntax
        if not words:
            return self.entries(limit)
        best: dict[int, str] = {}
        wanted = text.casefold().split()
        for conversation_id, title in self._read("SELECT id, title FROM conversations WHERE title IS NOT NULL", ()):
            if all(word in title.casefold() for word in wanted):
                best[conversation_id] = clean(title)
        for conversation_id, match in self._read(
            "SELECT turns.conversation_id, snippet(turns_search, -1, '[', ']', '…', 10) FROM turns_search "
            "JOIN turns ON turns.id = turns_search.rowid WHERE turns_search MATCH ? ORDER BY turns_search.rank",
            (words,),
        ):  # fmt: skip
            best.setdefault(conversation_id, clean(match))
        found = [e for e in self._entries(f"WHERE c.id IN ({','.join(map(str, best))})", ()) if e.id in best]
        return [replace(entry, match=best[entry.id]) for entry in found[:limit]]

    def entries(self, limit: int = 100) -> list[Entry]:
        """Conversations, the latest updated first."""
        return self._entries("", (), limit)

    def _entries(self, where: str, args: tuple[object, ...], limit: int = -1) -> list[Entry]:
        first_message = "(SELECT user FROM turns WHERE conversation_id = c.id AND number = 1)"
        sql = (
            f"SELECT c.id, COALESCE(c.title, {first_message}, ''), c.updated, c.model, "
            f"(SELECT COUNT(*) FROM turns WHERE conversation_id = c.id) FROM conversations AS c {where} "
            "ORDER BY c.updated DESC, c.id DESC LIMIT ?"
        )
        rows = self._read(sql, (*args, limit))
        return [Entry(r[0], _title(r[1]), datetime.fromisoformat(r[2]), r[3], r[4]) for r in rows]

    def load(self, conversation_id: int) -> SavedConversation:
        head = self._read(
            "SELECT model, params, system, prompt_name, updated, summary, branches FROM conversations WHERE id = ?",
            (conversation_id,),
        )
        if not head:
            raise HistoryError(f"no conversation {conversation_id} in the history")
        turns = self._read("SELECT data FROM turns WHERE conversation_id = ? ORDER BY number", (conversation_id,))
        model, params, system, prompt_name, updated, summary, branches = head[0]
        try:
            conversation = Conversation(
                system=system, prompt_name=prompt_name, turns=[Turn.model_validate_json(t[0]) for t in turns],
                summary=summary, branches=[Branch.model_validate(b) for b in json.loads(branches)],
            )  # fmt: skip
            return SavedConversation(model=model, params=Sampling.model_validate_json(params),
                                     saved_at=datetime.fromisoformat(updated), conversation=conversation)  # fmt: skip
        except ValueError as err:  # pydantic's ValidationError is one
            raise HistoryError(f"history {clean(str(self.path))}: conversation {conversation_id} is damaged "
                               f"({clean(str(err).splitlines()[0])})") from None  # fmt: skip

    def close(self) -> None:
        with self._lock:
            self._db.close()


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script one by one (executescript would commit the transaction)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement.strip()
            statement = ""


def _title(text: str, width: int = 60) -> str:
    line = " ".join(clean(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def dumps_entry(entry: Entry) -> str:
    return json.dumps({"id": entry.id, "title": entry.title, "updated": entry.updated.isoformat(),
                       "model": entry.model, "turns": entry.turns, **({"match": entry.match} if entry.match else {})},
                      ensure_ascii=False)  # fmt: skip


def default_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "history.db"


def open_history(path: Path) -> History:
    """The history at `path`; a new one takes in the conversation files saved beside it before
    the history existed (the TUI's autosaves), once."""
    new = not path.exists()
    history = History(path)
    if new:
        for file in sorted((path.parent / "conversations").glob("*.json")):
            try:
                history.import_file(load_conversation(file))
            except ParleyError:
                continue  # not a conversation file, or damaged: it stays where it is
    return history


class Recorder:
    """Keeps the session's conversation saved in the history: after each turn, and after each
    command that may change it (/undo, /retry, /clear starts a new one). The first failure
    turns it off, and says why once."""

    def __init__(self, history: History) -> None:
        self.history: History | None = history
        self.error = ""  # why it stopped
        self._conversation: Conversation | None = None  # the one saved as `_id`
        self._id: int | None = None

    def save(self, conversation: Conversation, model: str, params: Sampling) -> str | None:
        """Save; the error, the first time one stops the history."""
        if self.history is None or not conversation.turns:
            return None
        if conversation is not self._conversation:  # /clear, /load: a conversation of its own
            self._conversation, self._id = conversation, None
        try:
            self._id = self.history.save(self._id, conversation, model, params)
        except HistoryError as err:
            self.history.close()
            self.history, self.error = None, str(err)
            return self.error
        return None

    def adopt(self, conversation: Conversation, conversation_id: int) -> None:
        """`conversation` was opened from the history as `conversation_id`: its turns go on there."""
        self._conversation, self._id = conversation, conversation_id

    def database(self) -> History:
        """The history, for listing and searching; a ParleyError when it is off."""
        if self.history is None:
            raise HistoryError(f"the history is off for this session: {self.error}")
        return self.history

    def current(self, conversation: Conversation) -> int | None:
        """The id `conversation` is saved under; None when it is not saved (yet)."""
        return self._id if conversation is self._conversation else None

    def close(self) -> None:
        if self.history is not None:
            self.history.close()
