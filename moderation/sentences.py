"""Where a sentence ends: shared by the moderation filter, the stream hold-back and the claim detector."""

from __future__ import annotations

import re

# End punctuation (with closing quotes or brackets) and space, a line break, or one of Parley's
# marks: a sentence it replaced was a sentence of its own.
SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|⟧\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences with their trailing whitespace; the pieces join back to `text`."""
    pieces, start = [], 0
    for match in SENTENCE_END.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces
