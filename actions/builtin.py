"""The built-in actions: a note, files inside the workspace folder, and exporting the conversation."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from actions.action import Action, ActionContext, ActionError


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteArgs(_Args):
    text: str = Field(min_length=1, max_length=10_000, description="the note")


class WriteArgs(_Args):
    path: str = Field(min_length=1, max_length=255, description="a relative path inside the workspace")
    content: str = Field(max_length=1_000_000)


class ReadArgs(_Args):
    path: str = Field(min_length=1, max_length=255, description="a relative path inside the workspace")


class ExportArgs(_Args):
    path: str = Field(min_length=1, max_length=255, description="a .md or .json file name inside the workspace")


def confine(workspace: Path, relative: str) -> Path:
    """The path inside `workspace`, or ActionError for absolute paths, '..', and symlinks out."""
    candidate = Path(relative)
    if candidate.is_absolute() or relative.startswith("~"):
        raise ActionError(f"path must be relative to the workspace: {relative}")
    if ".." in candidate.parts:
        raise ActionError(f"path may not contain '..': {relative}")
    root = workspace.resolve()
    target = (root / candidate).resolve()  # follows symlinks, so a link out of the workspace shows here
    if not target.is_relative_to(root):
        raise ActionError(f"path leaves the workspace: {relative}")
    return target


def _save_note(args: NoteArgs, ctx: ActionContext) -> str:
    ctx.notes_file.parent.mkdir(parents=True, exist_ok=True)
    with ctx.notes_file.open("a", encoding="utf-8") as f:
        f.write(f"- {datetime.now():%Y-%m-%d %H:%M} {args.text}\n")
    return f"note saved to {ctx.notes_file}"


def _write_file(args: WriteArgs, ctx: ActionContext) -> str:
    target = confine(ctx.workspace, args.path)
    if target.exists():
        raise ActionError(f"{args.path} already exists; write_file never overwrites")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(args.content, encoding="utf-8")
    return f"wrote {len(args.content)} characters to {target}"


def _read_file(args: ReadArgs, ctx: ActionContext) -> str:
    target = confine(ctx.workspace, args.path)
    if not target.is_file():
        raise ActionError(f"no such file in the workspace: {args.path}")
    text = target.read_text(encoding="utf-8", errors="replace")
    return text[:20_000] + ("\n[truncated]" if len(text) > 20_000 else "")


def _export(args: ExportArgs, ctx: ActionContext) -> str:
    target = confine(ctx.workspace, args.path)
    ctx.export(target)
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
