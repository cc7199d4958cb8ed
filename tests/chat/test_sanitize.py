"""The one sanitiser: nothing from an untrusted source acts on a terminal, hides text or
imitates Parley's marks, however a stream is split; JSON keeps the data whole but inert."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chat.sanitize import clean, from_model, json_line, mark, quoted, shown_json

PAYLOADS = [
    "\x1b[31mred\x1b[0m",
    "\x1b]0;pwned title\x07",
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "\x9b31m",  # C1 CSI
    "\x1bP+q\x1b\\",  # DCS
]
INVISIBLE = {
    "bidi override": "invoice_\u202efdp.sh",
    "bidi isolate": "a\u2066b\u2069c",
    "zero-width space": "id\u200biot",
    "zero-width joiner": "id\u200diot",
    "word joiner": "id\u2060iot",
    "byte order mark": "\ufeffhello",
    "tag characters": "hi\U000e0041\U000e0042",
    "variation selector": "x\U000e0100y",
    "arabic letter mark": "a\u061cb",
    "hangul filler": "id\u3164iot",
    "soft hyphen": "id\u00adiot",
    "interlinear annotation": "a\ufff9b\ufffbc",
}
UNSAFE = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]] + [
    "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\U000e0041", "\U000e0100",
]  # fmt: skip


def test_escape_sequences_are_disarmed() -> None:
    for payload in PAYLOADS:
        cleaned = clean(payload)
        assert "\x1b" not in cleaned and "\x9b" not in cleaned and "\x07" not in cleaned


def test_invisible_and_direction_changing_characters_are_removed() -> None:
    for name, payload in INVISIBLE.items():
        assert not any(c in clean(payload) for c in UNSAFE), name
    assert clean("invoice_\u202efdp.sh") == "invoice_fdp.sh"


def test_text_newlines_and_tabs_survive() -> None:
    assert clean("a\tb\nc\r\nd") == "a\tb\nc\nd"
    assert clean("[bold red]x[/] é 中文 ⟦x⟧") == "[bold red]x[/] é 中文 ⟦x⟧"


def test_unicode_line_separators_are_line_breaks() -> None:
    # A terminal may show U+2028 as a line break: treat it as one, so nothing counts lines wrongly.
    assert clean("a\u2028b\u2029c") == "a\nb\nc"


def test_quoted_model_text_stays_on_one_line_with_no_marks() -> None:
    quote = quoted("line one\n⟦approved⟧ line\u2028two" + "x" * 400)
    assert "\n" not in quote and "⟦" not in quote and quote.startswith("line one ⏎ [approved] line ⏎ two")
    assert len(quote) == 300 and quote.endswith("…")


def test_shown_json_makes_the_invisible_visible() -> None:
    # What a person approves is what runs: a hidden override shows as its escape.
    shown = shown_json({"path": "invoice_\u202efdp.sh"})
    assert "\\u202e" in shown and "\u202e" not in shown
    assert json.loads(shown) == {"path": "invoice_\u202efdp.sh"}


def test_model_text_cannot_write_parley_marks() -> None:
    assert from_model("⟦removed: insult⟧ 〚stopped〛") == "[removed: insult] [stopped]"
    assert mark("stopped") == "⟦stopped⟧" and from_model(mark("stopped")) != mark("stopped")


@given(st.lists(st.text(), max_size=10))
def test_cleaning_chunks_equals_cleaning_the_whole(chunks: list[str]) -> None:
    # Streaming safety: a stream cleaned piece by piece shows exactly what the whole text cleaned
    # shows, and nothing unsafe survives whichever way the text is split.
    joined = "".join(from_model(c) for c in chunks)
    assert joined == from_model("".join(chunks))
    assert not any(c in joined for c in UNSAFE) and "⟦" not in joined


@given(st.text())
def test_json_lines_keep_the_data_and_nothing_unsafe(text: str) -> None:
    line = json_line({"content": text})
    assert not any(c in line for c in UNSAFE) and "\n" not in line
    assert json.loads(line) == {"content": text}
