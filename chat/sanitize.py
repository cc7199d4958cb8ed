"""Make untrusted text safe to show: the one sanitiser for everything Parley prints, shows or
writes from a source it does not control (model output, files, user input echoed back, names
and paths quoted in errors).

`clean` removes what could act on a terminal or hide text:
- control characters other than newline and tab (and CR LF becomes LF). That disarms every
  ANSI/OSC/DCS escape sequence whatever way a stream splits it: the ESC (or C1) character that
  starts one never gets through, so the rest is inert text;
- invisible and direction-changing characters: bidi marks, embeddings, overrides and isolates;
  zero-width spaces, joiners and non-joiners; the word joiner and BOM; Unicode tag characters;
  variation selectors, except the two that choose emoji or text presentation. (Emoji joined
  with a zero-width joiner show as their parts.)

`from_model` also turns Parley's own mark brackets ⟦ ⟧, and their look-alikes 〚 〛, into [ ]:
only Parley writes them (`mark`), so a reply cannot imitate one of Parley's notices.

Every rule acts on single characters (CR LF aside, which works split too), so cleaning a stream
piece by piece gives exactly what cleaning the whole does. Rich markup is a separate concern:
print with markup off.
"""

from __future__ import annotations

import json
import re
from typing import Any

MARK_OPEN, MARK_CLOSE = "⟦", "⟧"

_UNSAFE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 controls but tab and newline, DEL, C1 controls
    "\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"  # bidi, zero-width
    "\ufe00-\ufe0d"  # variation selectors, but for emoji and text presentation (FE0E, FE0F)
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef"  # tag characters, supplementary variation selectors
)
_UNSAFE_CHARACTER = re.compile(f"[{_UNSAFE}]")
_BRACKETS = str.maketrans({MARK_OPEN: "[", MARK_CLOSE: "]", "〚": "[", "〛": "]"})


def clean(text: str) -> str:
    return _UNSAFE_CHARACTER.sub("", text.replace("\r\n", "\n"))


def from_model(text: str) -> str:
    """Model output as it may be shown: clean, and with no mark brackets of Parley's."""
    return clean(text).translate(_BRACKETS)


def mark(text: str) -> str:
    """A notice as only Parley can write it: ⟦stopped⟧."""
    return f"{MARK_OPEN}{text}{MARK_CLOSE}"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"  # a JSON surrogate pair


def json_line(data: dict[str, Any]) -> str:
    """One JSON object on one line, safe to print: the characters `clean` would remove are
    written as \\u escapes, so the data stays whole while nothing in it acts on a terminal."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    return _UNSAFE_CHARACTER.sub(_escape, text)
