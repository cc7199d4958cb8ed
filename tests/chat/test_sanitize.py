from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chat.sanitize import clean

PAYLOADS = [
    "\x1b[31mred\x1b[0m",
    "\x1b]0;pwned title\x07",
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "\x9b31m",  # C1 CSI
    "\x1bP+q\x1b\\",  # DCS
]


def test_escape_sequences_are_disarmed() -> None:
    for payload in PAYLOADS:
        cleaned = clean(payload)
        assert "\x1b" not in cleaned and "\x9b" not in cleaned and "\x07" not in cleaned


def test_text_newlines_and_tabs_survive() -> None:
    assert clean("a\tb\nc\r\nd") == "a\tb\nc\nd"
    assert clean("[bold red]x[/] é 中文") == "[bold red]x[/] é 中文"


@given(st.lists(st.text(), max_size=10))
def test_cleaning_chunks_equals_cleaning_the_whole(chunks: list[str]) -> None:
    # Streaming safety: a stream cleaned piece by piece shows exactly what the whole text cleaned
    # shows, and no control character survives whichever way the text is split.
    joined = "".join(clean(c) for c in chunks)
    assert joined == clean("".join(chunks))
    assert not any(ord(ch) < 32 and ch not in "\t\n" or 0x7F <= ord(ch) <= 0x9F for ch in joined)
