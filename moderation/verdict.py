"""A moderation verdict: per-category scores, what to do, which backend, how long it took."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# Detoxify's labels; other backends map onto them (and may add e.g. profanity).
CATEGORIES = (
    "toxicity", "severe_toxicity", "obscene", "insult", "threat", "identity_attack", "sexual_explicit", "profanity"
)  # fmt: skip

Decision = Literal["allow", "warn", "redact", "block"]
SEVERITY: dict[str, int] = {"allow": 0, "warn": 1, "redact": 2, "block": 3}


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    scores: dict[str, float]
    flagged: tuple[str, ...]  # categories over their threshold, worst action first
    backend: str
    latency_s: float
    error: str | None = None  # the backend failed (then decision follows fail = closed/open)
    notes: tuple[str, ...] = field(default=())

    def scores_text(self) -> str:
        """ "insult 0.93, threat 0.71" for the flagged categories, or the error."""
        return ", ".join(f"{c} {self.scores[c]:.2f}" for c in self.flagged) or self.error or ""

    @property
    def label(self) -> str:
        return ", ".join(self.flagged) if self.flagged else ("moderation failed" if self.error else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "flagged": list(self.flagged),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "backend": self.backend,
            "latency_s": round(self.latency_s, 4),
            "error": self.error,
        }
