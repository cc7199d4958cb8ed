"""The built-in actions: a note, files inside the workspace folder, and exporting the conversation."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, field_validator

from actions.action import Action, ActionContext
from actions.errors import ActionError


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Characters a note may not hold: controls (escape sequences) and invisible or bidi characters,
# which would act on a terminal that shows the notes file, or hide part of a note.
_NOT_PLAIN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")


class NoteArgs(_Args):
    text: str = Field(min_length=1, max_length=10_000, description="the note")

    @field_validator("text")
    @classmethod
    def _plain(cls, text: str) -> str:
        if _NOT_PLAIN.search(text):
            raise ValueError("a note is plain text: no control or invisible characters")
        return text


class WriteArgs(_Args):
    path: str = Field(min_length=1, max_length=255, description="a relative path inside the workspace")
    content: str = Field(max_length=1_000_000)


class ReadArgs(_Args):
    path: str = Field(min_length=1, max_length=255, description="a relative path inside the workspace")


class ExportArgs(_Args):
    path: str = Field(min_length=1, max_length=255, description="a .md or .json file name inside the workspace")


def _save_note(args: NoteArgs, ctx: ActionContext) -> str:
    # One note, one line: a newline in the text cannot start an entry of its own.
    text = " ".join(args.text.split())
    line = f"- {datetime.now():%Y-%m-%d %H:%M} {text}\n".encode()
    ctx.notes_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(ctx.notes_file, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A note cut short by a crash (SIGKILL can stop a write between pages): this one
            # starts on a line of its own, never glued to it.
            line = b"\n" + line
        if os.write(fd, line) != len(line):  # appended whole, or the error says why
            raise ActionError(f"could not append the whole note to {ctx.notes_file}")
        os.fsync(fd)
    finally:
        os.close(fd)
    return f"note saved to {ctx.notes_file}"


def _write_file(args: WriteArgs, ctx: ActionContext) -> str:
    target = ctx.workspace.create(args.path, args.content)
    return f"wrote {len(args.content)} characters to {target}"


def _read_file(args: ReadArgs, ctx: ActionContext) -> str:
    return ctx.workspace.read(args.path)


def _export(args: ExportArgs, ctx: ActionContext) -> str:
    suffix = PurePosixPath(args.path).suffix.lower()
    if suffix not in (".md", ".json"):
        raise ActionError(f"cannot export to '{args.path}': use a .md or .json file name")
    target = ctx.workspace.create(args.path, ctx.export(suffix))
    return f"conversation exported to {target}"


# A claim about a file ("I've saved notes.txt") is one only a file action backs.
ABOUT_FILES = re.compile(r"\b(?:file|files|workspace)\b|\w\.(?:txt|md|json)\b", re.IGNORECASE)

BUILTIN = [
    Action("save_note", "save a note to the user's notes file", NoteArgs, "writes", _save_note,
           backs=frozenset({"save", "note", "record", "add"})),
    Action("write_file", "create a new text file in the workspace folder", WriteArgs, "writes", _write_file,
           backs=frozenset({"write", "create", "save"}), about=ABOUT_FILES),
    Action("read_file", "read a text file from the workspace folder", ReadArgs, "read-only", _read_file,
           backs=frozenset({"read", "open"}), about=ABOUT_FILES),
    Action("export_conversation", "export this conversation to a file in the workspace", ExportArgs, "writes",
           _export, backs=frozenset({"export"})),
]  # fmt: skip
