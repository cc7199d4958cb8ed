"""Classifier backends. Each scores texts into the shared categories (0..1 per category)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from moderation.normalize import word_normalizer
from moderation.verdict import Category


class BackendError(Exception):
    """A backend cannot be used (missing weights, failed load); the message says why."""


class Backend(Protocol):
    name: str

    def score(self, texts: Sequence[str]) -> list[dict[Category, float]]: ...


class OfflineBackend:
    """alt-profanity-check's linear model (it ships in its wheel) behind a de-obfuscating normaliser.

    Each text is scored as written and as normalised; the higher score counts, so the normaliser
    can only add detections. The model gives one offensiveness score, reported as `toxicity`.
    """

    name = "offline"

    def __init__(self) -> None:
        from profanity_check import profanity_check as model  # loads two small joblib files

        self._predict = model.predict_prob
        self.normalize = word_normalizer()  # the same model's vocabulary, as a shipped table

    def offensiveness(self, texts: Sequence[str]) -> list[float]:
        """The word model's score of each text, the higher of it as written and as normalised."""
        if not texts:
            return []
        both = list(texts) + [self.normalize(t) for t in texts]
        probs = self._predict(both)
        n = len(texts)
        return [float(max(probs[i], probs[n + i])) for i in range(n)]

    def score(self, texts: Sequence[str]) -> list[dict[Category, float]]:
        return [{"toxicity": p} for p in self.offensiveness(texts)]
