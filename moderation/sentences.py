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


# A sentence longer than this many words is also read clause by clause: abuse in one clause of a
# long, polite sentence was diluted below every threshold (16 harmless words hid "I will kill you").
LONG_SENTENCE = 14
_CLAUSE_END = re.compile(r"(?<=[,;:)])\s+|\s+(?=[(—–-]\s)|(?<=[—–])\s+|\s+(?=but\s)")
_MIN_CLAUSE = 3  # words; a shorter piece joins the clause after it (or before, at the end)


def clauses(sentence: str) -> list[str]:
    """The clauses of a long sentence, split at commas, semicolons, colons, dashes, brackets and
    "but"; nothing for a short sentence or one that does not split."""
    if len(sentence.split()) <= LONG_SENTENCE:
        return []
    found: list[str] = []
    for piece in _CLAUSE_END.split(sentence.strip()):
        if found and len(found[-1].split()) < _MIN_CLAUSE:
            found[-1] = f"{found[-1]} {piece}"
        else:
            found.append(piece)
    if len(found) > 1 and len(found[-1].split()) < _MIN_CLAUSE:
        found[-2:] = [f"{found[-2]} {found[-1]}"]
    return found if len(found) > 1 else []
