from __future__ import annotations

from pathlib import Path

import pytest

from chat import scripted_engine
from chat.errors import ConfigError, UsageError
from chat.script import Step, parse_jsonl, parse_text, read_script


def test_text_paragraphs_are_turns_and_slash_lines_commands() -> None:
    script = "Hello there.\nSecond line.\n\n/temp 0.2\nNext question?\n/context\n\n\nLast.\n"
    assert parse_text(script) == [
        Step("user", "Hello there.\nSecond line.", 1),
        Step("command", "/temp 0.2", 4),
        Step("user", "Next question?", 5),
        Step("command", "/context", 6),
        Step("user", "Last.", 9),
    ]


def test_jsonl_script() -> None:
    text = '{"role": "user", "content": "hi"}\n\n{"command": "/temp 0.2"}\n'
    assert parse_jsonl(text) == [Step("user", "hi", 1), Step("command", "/temp 0.2", 3)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "s.jsonl:1: not valid JSON"),
        ('{"role": "assistant", "content": "x"}', 'only role "user"'),
        ('{"command": "temp 1"}', "must start with '/'"),
        ('{"role": "user", "content": ""}', "non-empty string"),
        ('{"text": "x"}', "expected"),
        ("[1, 2]", "expected"),
    ],
)
def test_bad_jsonl_names_the_line(line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_jsonl(line, "s.jsonl")


def test_format_is_detected(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.txt"
    jsonl.write_text('{"role": "user", "content": "hi"}\n')
    assert read_script(jsonl) == [Step("user", "hi", 1)]
    with pytest.raises(UsageError, match="script not found"):
        read_script(tmp_path / "missing.txt")


def test_a_script_that_never_ends_is_refused_not_read_forever() -> None:
    with pytest.raises(UsageError, match="cannot read script /dev/zero: larger than 16 MB"):
        read_script(Path("/dev/zero"))
    with pytest.raises(ConfigError, match="cannot read script /dev/zero: larger than 16 MB"):
        scripted_engine.read_script(Path("/dev/zero"))  # a model's scripted replies


@pytest.mark.parametrize("content", ["", "\n\n   \n", "\n"])
def test_a_script_with_nothing_to_run_is_a_usage_error(tmp_path: Path, content: str) -> None:
    script = tmp_path / "empty.txt"
    script.write_text(content)
    with pytest.raises(UsageError, match="holds no message or command"):
        read_script(script)
