"""The line-mode chat: a prompt, streamed replies, slash commands (Ctrl+C stops a reply)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TextIO

from chat.errors import UsageError
from chat.runner import Runner
from chat.script import Step, as_text, text_lines

MULTILINE = '"""'


def read_interactive() -> Iterator[Step]:
    """Lines typed at a prompt; a line of three quotes starts and ends a multi-line message."""
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
        if line.strip():
            yield Step("command" if line.startswith("/") else "user", line.strip(), number)


def read_piped(stream: TextIO) -> Iterator[Step]:
    """Each non-empty line of a pipe is a user message or a command; input that is not text
    stops the chat with a usage error."""
    for number, line in text_lines(stream):
        yield Step("command" if line.startswith("/") else "user", line.strip(), number)


def line_chat(runner: Runner) -> int:
    """A chat typed at the terminal (or piped in), one step a line, going on after errors."""
    if runner.interactive:
        info = runner.session.engine.info
        runner.notice(
            f"Parley - {runner.session.model_name} (n_ctx {info.n_ctx}). "
            'Type /help for commands, """ for multi-line input, Ctrl+C to stop a reply, /quit or Ctrl+D to leave.'
        )
    steps = read_interactive() if runner.interactive else read_piped(sys.stdin)
    return runner.run(steps, keep_going=True)
