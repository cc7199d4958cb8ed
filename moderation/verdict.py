"""Moderation's vocabulary: the categories, what a verdict decides, and the verdict itself."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, field_serializer

# Detoxify's labels, then Parley's own: profanity (the word model), self-harm encouragement and
# sexual harassment (the contextual backend's heads), and `unsafe`: a harm a moderation model
# names that has no category here (crime, weapons, privacy...). A backend scores the categories
# it knows.
Category = Literal[
    "toxicity", "severe_toxicity", "obscene", "insult", "threat", "identity_attack", "sexual_explicit",
    "profanity", "self_harm", "sexual_harassment", "unsafe",
]  # fmt: skip
CATEGORIES: tuple[Category, ...] = get_args(Category)

Decision = Literal["allow", "warn", "redact", "block"]
Policy = Literal["warn", "redact", "block"]  # what a category over its threshold leads to
SEVERITY: dict[Decision, int] = {"allow": 0, "warn": 1, "redact": 2, "block": 3}


class Verdict(BaseModel):
    """Scores per category, the decision, which backend gave them and how long it took."""

    model_config = ConfigDict(frozen=True)

    decision: Decision
    scores: dict[Category, float]
    flagged: tuple[Category, ...]  # categories over their threshold, worst decision first
    backend: str
    latency_s: float
    error: str | None = None  # the backend failed (then decision follows fail = closed/open)
    labels: tuple[str, ...] = ()  # a moderation model's own names for what it found ("S10: Hate")

    @field_serializer("scores")
    def _round_scores(self, scores: dict[Category, float]) -> dict[Category, float]:
        return {k: round(v, 4) for k, v in scores.items()}

    @field_serializer("latency_s")
    def _round_latency(self, latency: float) -> float:
        return round(latency, 4)

    def scores_text(self) -> str:
        """ "insult 0.93, threat 0.71" for the flagged categories (and a moderation model's own
        words for them), or the error."""
        text = ", ".join(f"{c} {self.scores[c]:.2f}" for c in self.flagged) or self.error or ""
        return f"{text} ({'; '.join(self.labels)})" if self.labels and self.flagged else text

    @property
    def label(self) -> str:
        return ", ".join(self.flagged) if self.flagged else ("moderation failed" if self.error else "")
