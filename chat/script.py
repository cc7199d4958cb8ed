"""Conversation scripts for `parley run`.

Two formats:
- plain text: each paragraph (lines up to a blank line) is one user turn; a line starting
  with `/` is a command on its own;
- JSON Lines (a `.jsonl` file, or one whose first line starts with `{`): one object a line,
  {"role": "user", "content": "..."} or {"command": "/temp 0.2"}.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from chat.errors import UsageError
from chat.files import read_capped

_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")  # NUL, and the stand-ins Python uses for undecodable bytes


def as_text(text: str, where: str) -> str:
    """`text` if it is text; a UsageError naming `where` if it holds bytes that are not UTF-8 or
    binary data (nothing the model could read)."""
    found = _NOT_TEXT.search(text)
    if found is None:
        return text
    problem = "binary data (NUL bytes)" if found.group() == "\x00" else "bytes that are not UTF-8 text"
    raise UsageError(f"{where} holds {problem}; Parley reads text")


def text_lines(stream: TextIO, where: str = "stdin") -> Iterator[tuple[int, str]]:
    """The non-empty lines of `stream` with their numbers (newline removed); a UsageError at the
    first that is not text."""
    lines = iter(stream)
    for number in itertools.count(1):
        try:
            line = next(lines)
        except StopIteration:
            return
        except UnicodeDecodeError:
            line = "\udcff"  # reported below, as any other bytes that are not text
        line = as_text(line.rstrip("\n"), f"{where} line {number}")
        if line.strip():
            yield number, line


@dataclass(frozen=True)
class Step:
    kind: Literal["user", "command"]
    text: str
    line: int  # where it starts in the script, for error messages


def read_script(path: Path) -> list[Step]:
    try:
        text = as_text(read_capped(path), f"script {path}")
    except FileNotFoundError:
        raise UsageError(f"script not found: {path}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read script {path}: it is not UTF-8 text (a binary file?)") from None
    except OSError as err:
        raise UsageError(f"cannot read script {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise UsageError(f"cannot read script {path}: {err}") from None
    is_jsonl = path.suffix == ".jsonl" or text.lstrip().startswith("{")
    steps = parse_jsonl(text, str(path)) if is_jsonl else parse_text(text)
    if not steps:  # an empty file, most likely the wrong one: nothing to run is not a success
        raise UsageError(f"script {path} holds no message or command")
    return steps


def parse_text(text: str) -> list[Step]:
    steps: list[Step] = []
    paragraph: list[str] = []
    start = 0

    def flush() -> None:
        if paragraph:
            steps.append(Step("user", "\n".join(paragraph).strip(), start))
            paragraph.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("/"):
            flush()
            steps.append(Step("command", line.strip(), number))
        elif not line.strip():
            flush()
        else:
            if not paragraph:
                start = number
            paragraph.append(line)
    flush()
    return steps


def parse_jsonl(text: str, name: str = "<script>") -> list[Step]:
    steps = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise UsageError(f"{name}:{number}: not valid JSON: {err.msg}") from None
        except (ValueError, RecursionError):  # a number of thousands of digits, nesting too deep
            raise UsageError(f"{name}:{number}: not a step Parley can read") from None
        steps.append(_step(obj, name, number))
    return steps


def _step(obj: object, name: str, number: int) -> Step:
    where = f"{name}:{number}"
    if isinstance(obj, dict) and set(obj) == {"command"} and isinstance(obj["command"], str):
        if not obj["command"].startswith("/"):
            raise UsageError(f"{where}: a command must start with '/' (got {obj['command']!r})")
        return Step("command", as_text(obj["command"].strip(), where), number)
    if isinstance(obj, dict) and set(obj) == {"role", "content"}:
        if obj["role"] != "user":
            raise UsageError(f'{where}: only role "user" can be scripted (got {obj["role"]!r})')
        if not isinstance(obj["content"], str) or not obj["content"].strip():
            raise UsageError(f'{where}: "content" must be a non-empty string')
        return Step("user", as_text(obj["content"], where), number)
    raise UsageError(f'{where}: expected {{"role": "user", "content": ...}} or {{"command": "/..."}}')
