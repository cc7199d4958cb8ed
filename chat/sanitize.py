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
    # Unicode's default-ignorable code points (bidi controls, zero-width characters, fillers, tag
    # characters, variation selectors but the two that choose emoji or text presentation) and the
    # other invisible format characters
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0d\ufeff\uffa0\ufff0-\ufffb\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
_UNSAFE_CHARACTER = re.compile(f"[{_UNSAFE}]")
_LINE_BREAKS = str.maketrans({"\u2028": "\n", "\u2029": "\n"})  # line and paragraph separators
_BRACKETS = str.maketrans({MARK_OPEN: "[", MARK_CLOSE: "]", "〚": "[", "〛": "]"})


def clean(text: str) -> str:
    return _UNSAFE_CHARACTER.sub("", text.replace("\r\n", "\n")).translate(_LINE_BREAKS)


def from_model(text: str) -> str:
    """Model output as it may be shown: clean, and with no mark brackets of Parley's."""
    return clean(text).translate(_BRACKETS)


def quoted(text: str, limit: int = 300) -> str:
    """Untrusted text inside one of Parley's one-line notices: no marks of Parley's, no line
    breaks (a quoted newline cannot start a line that looks like a notice), and not too long."""
    text = " ⏎ ".join(from_model(text).splitlines())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mark(text: str) -> str:
    """A notice as only Parley can write it: ⟦stopped⟧."""
    return f"{MARK_OPEN}{text}{MARK_CLOSE}"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"  # a JSON surrogate pair


_ESCAPED = re.compile(f"[{_UNSAFE}\u2028\u2029{MARK_OPEN}{MARK_CLOSE}〚〛]")


def json_line(data: dict[str, Any]) -> str:
    """One JSON object on one line, safe to print: the characters `from_model` would change are
    written as \\u escapes, so the data stays whole while nothing in it acts on a terminal or
    looks like a mark of Parley's."""
    return shown_json(data, indent=None)


def shown_json(data: Any, indent: int | None = 2) -> str:
    """JSON for a person to read, as `json_line`: what would be invisible is visible as an escape
    (an approval shows `\\u202e` where the text holds a bidi override, and runs what it shows)."""
    return _ESCAPED.sub(_escape, json.dumps(data, ensure_ascii=False, default=str, indent=indent))
