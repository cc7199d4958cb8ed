"""Write `moderation/words.json`, the vocabulary the normaliser repairs words against
(`python -m moderation.training.words`; committed, rerun only when alt-profanity-check changes).

The words are alt-profanity-check's: its vectorizer's vocabulary with the mean coefficient of its
calibrated linear models (a repaired typo becomes the candidate the model finds most offensive),
and the English stop words the vectorizer drops, which are known words too ("have" must not be
"repaired" into "hate"). Shipping them as a table lets the contextual backend normalise without
importing scikit-learn, which took 0.7 s of every start.
"""

from __future__ import annotations

import json
from importlib.metadata import version

import numpy as np
from profanity_check import profanity_check as model

from moderation.normalize import WORDS_FILE


def table() -> dict[str, object]:
    vocabulary = model.vectorizer.vocabulary_
    coefficients = np.mean([c.estimator.coef_[0] for c in model.model.calibrated_classifiers_], axis=0)
    return {
        "source": f"alt-profanity-check {version('alt-profanity-check')} (MIT): vectorizer vocabulary, "
        "mean coefficient of its calibrated classifiers, and its stop words",
        "weights": {word: round(float(coefficients[index]), 6) for word, index in sorted(vocabulary.items())},
        "stop_words": sorted(model.vectorizer.get_stop_words() or ()),
    }


if __name__ == "__main__":
    WORDS_FILE.write_text(json.dumps(table(), separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {WORDS_FILE}")
