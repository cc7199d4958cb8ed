"""Moderating a stream: text is held back until a sentence (or `hold_chars` characters) is
complete, then moderated, then released. No character is released before it was moderated."""

from __future__ import annotations

from moderation.filter import Moderator
from moderation.sentences import SENTENCE_END
from moderation.verdict import SEVERITY, Decision, Verdict


class StreamFilter:
    def __init__(self, moderator: Moderator, hold_chars: int | None = None) -> None:
        self.moderator = moderator
        self.hold_chars = hold_chars or moderator.config.hold_chars
        self.buffer = ""
        self.flagged: list[Verdict] = []  # verdicts of the pieces that were warned, redacted or blocked
        self.blocked: Verdict | None = None

    def feed(self, text: str) -> str:
        """Take streamed text; return the part that is moderated and may be shown now."""
        if self.blocked:
            return ""
        self.buffer += text
        released = []
        while not self.blocked and (cut := self._cut()) is not None:
            piece, self.buffer = self.buffer[:cut], self.buffer[cut:]
            released.append(self._release(piece))
        return "".join(released)

    def finish(self) -> str:
        """The stream ended: moderate and release what is left."""
        piece, self.buffer = self.buffer, ""
        return self._release(piece) if piece and not self.blocked else ""

    @property
    def decision(self) -> Decision:
        return max((v.decision for v in self.flagged), key=SEVERITY.__getitem__, default="allow")

    def _cut(self) -> int | None:
        match = SENTENCE_END.search(self.buffer)
        if match:
            return match.end()
        if len(self.buffer) >= self.hold_chars:
            space = self.buffer.rfind(" ", 0, self.hold_chars)
            return space + 1 if space > 0 else self.hold_chars
        return None

    def _release(self, piece: str) -> str:
        if not piece.strip():
            return piece
        verdict = self.moderator.check(piece)
        if verdict.decision != "allow" or verdict.error:
            self.flagged.append(verdict)
        if verdict.decision == "block":
            self.blocked = verdict
            self.buffer = ""
            return ""
        if verdict.decision == "redact":
            label = next(c for c in verdict.flagged if self.moderator.config.policy_for(c) == "redact")
            trailing = piece[len(piece.rstrip()) :]
            return f"[removed: {label}]{trailing}"
        return piece
