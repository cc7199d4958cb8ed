"""The line-mode chat: a prompt, streamed replies, slash commands (Ctrl+C stops a reply)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from chat.errors import UsageError
from chat.runner import Runner
from chat.script import Step, as_text, text_lines
from chat.session import Session

MULTILINE = '"""'
EDIT = re.compile(r"/edit (\d+)$")  # alone: in the editor


def read_interactive(session: Session) -> Iterator[Step]:
    """Lines typed at a prompt; a line of three quotes starts and ends a multi-line message;
    `/edit N` alone opens message N in $VISUAL or $EDITOR."""
    import readline  # noqa: F401  (line editing and history for input())

    number = 0
    while True:
        try:
            line = input("> ")
            if line.strip() == MULTILINE:
                lines = []
                while (more := input(". ")).strip() != MULTILINE:
                    lines.append(more)
                line = "\n".join(lines)
        except EOFError:
            print()
            return
        except KeyboardInterrupt:
            print()
            continue
        except UnicodeDecodeError:  # bytes the terminal's encoding cannot read
            line = "\udcff"
        try:
            line = as_text(line, "that input")
        except UsageError as err:
            print(f"parley: {err}; type it again", file=sys.stderr)
            continue
        number += 1
        if (found := EDIT.match(line.strip())) is not None:
            line = edited(session, int(found.group(1))) or ""
        if line.strip():
            yield Step("command" if line.startswith("/") else "user", line.strip(), number)


def edited(session: Session, number: int) -> str | None:
    """`/edit N TEXT` with message N as changed in the user's editor; None (said why) when
    there is no such message, no editor, or nothing changed."""
    turns = session.conversation.turns
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not 1 <= number <= len(turns) or not editor:
        why = f"no message {number}" if editor else "set $EDITOR (or type /edit N TEXT)"
        print(f"parley: cannot edit: {why}", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"message-{number}.md"
        path.write_text(turns[number - 1].user, encoding="utf-8")
        if subprocess.run([*shlex.split(editor), str(path)], check=False).returncode != 0:
            print("parley: the editor failed; nothing was sent", file=sys.stderr)
            return None
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    if not text or text == turns[number - 1].user.strip():
        print("parley: message unchanged; nothing was sent", file=sys.stderr)
        return None
    return f"/edit {number} {text}"


def read_piped(stream: TextIO) -> Iterator[Step]:
    """Each non-empty line of a pipe is a user message or a command, and lines between two lines
    of three quotes are one message, as typed at the prompt (one left open at the end is sent as
    it is); input that is not text stops the chat with a usage error."""
    block: list[str] | None = None  # the lines of a multi-line message, while one is open
    start = last = 0
    for number, line in text_lines(stream):
        if block is None and line.strip() == MULTILINE:
            block, start = [], number
        elif block is not None and line.strip() == MULTILINE:
            if text := "\n".join(block).strip():
                yield Step("user", text, start)
            block = None
        elif block is not None:
            block += [""] * (number - last - 1) + [line]  # the blank lines text_lines leaves out
        else:
            yield Step("command" if line.startswith("/") else "user", line.strip(), number)
        last = number
    if block is not None and (text := "\n".join(block).strip()):
        yield Step("user", text, start)


def line_chat(runner: Runner) -> int:
    """A chat typed at the terminal (or piped in), one step a line, going on after errors."""
    if runner.interactive:
        info = runner.session.engine.info
        runner.notice(
            f"Parley - {runner.session.model_name} (n_ctx {info.n_ctx}). "
            'Type /help for commands, """ for multi-line input, Ctrl+C to stop a reply, /quit or Ctrl+D to leave.'
        )
    steps = read_interactive(runner.session) if runner.interactive else read_piped(sys.stdin)
    return runner.run(steps, keep_going=True)
