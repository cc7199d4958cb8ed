"""The contextual backend, the default when Detoxify's weights are absent: a sentence encoder
(`moderation.encoder`) read by one small linear head per category, beside a list of swear words
for profanity (`moderation.profanity`). It reads a sentence as a whole, so "kill the process"
and "I will kill you" are told apart, and abuse written without a swear word is caught.

The heads are trained by `moderation/training/train.py` (`make heads`) on data whose sources and
licences `moderation/training/DATA.md` records, and committed in `heads.json`: users never train.
Each head's score is shifted so that its calibrated threshold (chosen on a validation split) is
0.5, the default threshold of every category.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import numpy as np

from moderation import encoder, profanity
from moderation.backends import BackendError
from moderation.encoder import DIMENSIONS, Encoder
from moderation.normalize import word_normalizer
from moderation.verdict import Category

HEADS_FILE = Path(__file__).with_name("heads.json")


@dataclass(frozen=True)
class Heads:
    """Linear heads over sentence embeddings: one row of weights and a bias per category."""

    categories: tuple[Category, ...]
    weights: np.ndarray  # (categories, DIMENSIONS)
    bias: np.ndarray  # (categories,), each already shifted so that its threshold is at 0.5

    @classmethod
    def load(cls, path: Path = HEADS_FILE) -> Heads:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["encoder"] != encoder.pinned("gguf"):
                raise BackendError(f"{path} was trained on another encoder")
            known = get_args(Category)
            heads = data["heads"]
            categories = tuple(name for name in heads if name in known)
            weights = np.array([heads[c]["weights"] for c in categories], dtype=np.float32)
            bias = np.array([heads[c]["bias"] - _logit(heads[c]["threshold"]) for c in categories], dtype=np.float32)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise BackendError(f"cannot read the moderation heads {path}: {err}") from None
        if weights.shape != (len(categories), DIMENSIONS):
            raise BackendError(f"{path}: the heads do not fit the encoder's {DIMENSIONS} dimensions")
        return cls(categories, weights, bias)

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """Probabilities, one row per embedding and one column per category."""
        logits: np.ndarray = embeddings @ self.weights.T + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-logits)))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


class ContextualBackend:
    name = "contextual"

    def __init__(self, model: Encoder | None = None, heads: Heads | None = None) -> None:
        self.heads = heads or Heads.load()
        self.normalize = word_normalizer()
        self.encoder = model or encoder.shared()

    def score(self, texts: Sequence[str]) -> list[dict[Category, float]]:
        """Each text as written and as the normaliser repairs it (obfuscations undone): the higher
        score of the two counts, per category; profanity is the swear-word list's."""
        if not texts:
            return []
        normalized = [self.normalize(t) for t in texts]
        extra = [i for i, (t, n) in enumerate(zip(texts, normalized, strict=True)) if n != t.casefold()]
        embeddings = self.encoder.embed([*texts, *(normalized[i] for i in extra)])
        probabilities = self.heads.score(embeddings)
        per_text = probabilities[: len(texts)].copy()
        for row, i in enumerate(extra, start=len(texts)):
            per_text[i] = np.maximum(per_text[i], probabilities[row])
        return [
            {**{c: float(p) for c, p in zip(self.heads.categories, scores, strict=True)},
             "profanity": profanity.score(text, repaired)}
            for text, repaired, scores in zip(texts, normalized, per_text, strict=True)
        ]  # fmt: skip
