"""Moderating a stream: text is held back until a sentence (or `hold_chars` characters) is
complete, then moderated, then released. No character is released before it was moderated.

A long run is never cut inside a word: it is cut at the last space, else where the last word
starts. Markup can still join pieces into one word on screen ("[id](https://x)" then "iot"),
and a run of letters may have to be cut, so after any cut but a sentence end the next piece is
scored together with the end of the one before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from moderation.filter import Moderator
from moderation.sentences import SENTENCE_END
from moderation.verdict import SEVERITY, Decision, Verdict

OVERLAP = 80  # characters of the previous piece scored with the next one after a cut mid-sentence
_WORD_START = re.compile(r"(?<!\w)\w")


_MARKUP_START = re.compile(r"<[A-Za-z!?/]")


def _open_markup(text: str) -> bool:
    """Whether `text` ends inside a tag, comment or other `<...>` construct not closed yet
    ("x < y" is no such thing)."""
    starts = [m.start() for m in _MARKUP_START.finditer(text)]
    return bool(starts) and text.rfind(">") < starts[-1]


class StreamFilter:
    def __init__(self, moderator: Moderator, redacted: Callable[[str], str], hold_chars: int | None = None) -> None:
        self.moderator = moderator
        self.redacted = redacted  # the text shown instead of a redacted piece, given the category
        self.hold_chars = hold_chars or moderator.config.hold_chars
        self.buffer = ""
        self.context = ""  # the end of the last piece, when it was cut mid-sentence
        self.flagged: list[Verdict] = []  # verdicts of the pieces that were warned, redacted or blocked
        self.blocked: Verdict | None = None

    def feed(self, text: str) -> str:
        """Take streamed text; return the part that is moderated and may be shown now."""
        if self.blocked:
            return ""
        self.buffer += text
        released = []
        while not self.blocked and (cut := self._cut()) is not None:
            end, sentence_end = cut
            piece, self.buffer = self.buffer[:end], self.buffer[end:]
            flagged = len(self.flagged)
            released.append(self._release(piece))
            # A flagged piece was dealt with: scoring it again would flag the next one too.
            clean_cut = not sentence_end and len(self.flagged) == flagged
            self.context = (self.context + piece)[-OVERLAP:] if clean_cut else ""
        return "".join(released)

    def finish(self) -> str:
        """The stream ended: moderate and release what is left."""
        piece, self.buffer = self.buffer, ""
        return self._release(piece) if piece and not self.blocked else ""

    @property
    def decision(self) -> Decision:
        return max((v.decision for v in self.flagged), key=SEVERITY.__getitem__, default="allow")

    def _cut(self) -> tuple[int, bool] | None:
        """Where the next piece ends, and whether that is a sentence end; None: hold on."""
        for match in SENTENCE_END.finditer(self.buffer):
            if match.end() > self.hold_chars:
                break
            if not _open_markup(self.buffer[: match.start()]):  # "f<!-- a. -->uck" is one word on screen
                return match.end(), True
        if len(self.buffer) < self.hold_chars:
            return None
        window = self.buffer[: self.hold_chars]
        space = max(window.rfind(" "), window.rfind("\t"))
        if space > 0:
            return space + 1, False
        starts = [m.start() for m in _WORD_START.finditer(window) if m.start() > 0]
        return (starts[-1] if starts else self.hold_chars), False

    def _release(self, piece: str) -> str:
        if not piece.strip():
            return piece
        verdict = self.moderator.check(self.context + piece)
        if verdict.decision != "allow" or verdict.error:
            self.flagged.append(verdict)
        if verdict.decision == "block":
            self.blocked = verdict
            self.buffer = ""
            return ""
        if verdict.decision == "redact":
            label = next(c for c in verdict.flagged if self.moderator.config.policy_for(c) == "redact")
            trailing = piece[len(piece.rstrip()) :]
            return self.redacted(label) + trailing
        return piece
