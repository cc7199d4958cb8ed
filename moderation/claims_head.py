"""The claim detector's learned check: a linear head over the moderation encoder's sentence
embeddings that confirms what the grammar (`moderation.claims`) takes for a claim.

The grammar finds every first-person past, perfect, progressive or committing verb and every
passive result, with any verb. What it cannot tell apart is a result reported from a state
described ("Your order was cancelled" / "The packaging was torn open"), news about this
customer's things from policy text ("20% of the fee paid is added to your balance"), or a hedge
("You may have been charged twice"): sentences a small model writes often, so most notices on its
replies were wrong. The head reads the whole sentence, as moderation does.

Trained by `moderation/training/claims.py` (`make claims-head`) and committed in
`claims_head.json`, for one encoder (its digest is checked). It reuses the moderation's encoder
(`encoder.shared()`: the same model, loaded once), which remembers the embeddings of the sentences
the moderation has just read, so in a reply the check costs no embedding of its own; where the
encoder is not prepared, the grammar decides alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moderation import encoder
from moderation.backends import BackendError

HEAD_FILE = Path(__file__).with_name("claims_head.json")

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class ClaimHead:
    weights: np.ndarray  # (DIMENSIONS,)
    bias: float  # shifted so that the threshold is at a logit of 0
    embed: Embed

    @classmethod
    def load(cls, embed: Embed, path: Path = HEAD_FILE) -> ClaimHead:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["encoder"] != encoder.pinned("gguf"):
                raise BackendError(f"{path} was trained on another encoder (run: make claims-head)")
            weights = np.array(data["weights"], dtype=np.float32)
            bias = float(data["bias"]) - float(np.log(data["threshold"] / (1.0 - data["threshold"])))
        except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as err:
            raise BackendError(f"cannot read the claim check {path}: {err}") from None
        if weights.shape != (encoder.DIMENSIONS,):
            raise BackendError(f"{path}: the head does not fit the encoder's {encoder.DIMENSIONS} dimensions")
        return cls(weights, bias, embed)

    def logits(self, sentences: Sequence[str]) -> np.ndarray:
        """Above 0: a claim."""
        return np.asarray(self.embed(sentences) @ self.weights + self.bias)

    def confirms(self, sentence: str) -> bool:
        """Whether `sentence`, which the grammar takes for a claim, reads as one. When the encoder
        fails, the grammar's word stands: a notice too many rather than one missed."""
        try:
            return bool(self.logits([sentence])[0] >= 0.0)
        except Exception:  # noqa: BLE001 (llama.cpp's errors have no common type)
            return True


def load_check() -> tuple[Callable[[str], bool] | None, str]:
    """The learned check with the shared encoder, or None and why the grammar decides alone."""
    if encoder.find() is None:
        return None, "the sentence encoder is not prepared (run: parley moderation prepare)"
    try:
        return ClaimHead.load(encoder.shared().embed).confirms, ""
    except BackendError as err:
        return None, str(err)
