"""Train the claim detector's learned check (`make claims-head`): a logistic regression over the
moderation encoder's sentence embeddings, as llama.cpp computes them, written to
`moderation/claims_head.json` (committed: users never train). A minute on two cores.

    python -m moderation.training.claims

Data (sources and licences: DATA.md beside this file):
- `data/claims_synthetic*.jsonl`: sentences written for it by helpers that saw neither the code
  nor the evaluation data, claims and non-claims in minimal pairs (see DATA.md);
- the dev halves of the claim corpora in `bench/data/` (written claims, the first corpus, the
  embedded model's replies), which exist to tune on. Their test halves and the fresh sets of
  model replies are never read here: they measure the result (`bench/claims.py`).
Rows where an executed action backs the claim are left out: the head learns what reads as a
claim, backed or not.

The threshold keeps 97% of the claims the grammar finds in the training data, scored by 5-fold
cross-validation (each row by a model that did not see it): the head is there to drop the
grammar's false claims, and should cost it few true ones.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from moderation import claims, encoder
from moderation.claims_head import HEAD_FILE

HERE = Path(__file__).resolve().parent
SYNTHETIC = sorted((HERE / "data").glob("claims_synthetic*.jsonl"))  # written for it; see DATA.md
BENCH = HERE.parent.parent / "bench" / "data"
DEV_CORPORA = ("claims_written.jsonl", "claims.jsonl", "claims_replies.jsonl")
C = 3.0  # inverse regularisation: 1, 3 and 10 scored alike in cross-validation
KEEP = 0.97  # of the grammar's true claims


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def training_rows() -> tuple[list[str], np.ndarray, dict[str, int]]:
    texts: list[str] = []
    labels: list[bool] = []
    counts: dict[str, int] = {}
    sources = [(path.name, _rows(path)) for path in SYNTHETIC]
    sources += [(f"{name} (dev)", [r for r in _rows(BENCH / name) if r["split"] == "dev"]) for name in DEV_CORPORA]
    for source, rows in sources:
        kept = [r for r in rows if not r.get("executed")]
        texts += [r["text"] for r in kept]
        labels += [r["label"] == "claim" for r in kept]
        counts[source] = len(kept)
    return texts, np.array(labels), counts


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    texts, truth, counts = training_rows()
    embeddings = encoder.Encoder(threads=2).embed(texts)
    claims.load()
    grammar = np.array([claims.sentence_claim(t) is not None for t in texts])

    def model() -> LogisticRegression:
        return LogisticRegression(C=C, max_iter=5000, class_weight="balanced")

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    held_out = cross_val_predict(model(), embeddings, truth, cv=folds, method="predict_proba")[:, 1]
    found = np.sort(held_out[grammar & truth])
    threshold = float(found[int((1.0 - KEEP) * len(found))])
    false = held_out[grammar & ~truth]
    head = model().fit(embeddings, truth)
    cv = {
        "grammar_claims": int(len(found)),
        "kept": round(float(np.mean(found >= threshold)), 4),
        "grammar_false_claims": int(len(false)),
        "dropped": round(float(np.mean(false < threshold)), 4),
    }
    result = {
        "encoder": encoder.pinned("gguf"),
        "trained": date.today().isoformat(),
        "data": counts,
        "C": C,
        "threshold": round(threshold, 6),
        "cross_validation": cv,
        "weights": [round(float(w), 6) for w in head.coef_[0]],
        "bias": round(float(head.intercept_[0]), 6),
    }
    HEAD_FILE.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{len(texts)} sentences ({int(truth.sum())} claims); threshold {threshold:.3f}: keeps {cv['kept']:.1%} "
          f"of the grammar's {cv['grammar_claims']} claims, drops {cv['dropped']:.1%} of its "
          f"{cv['grammar_false_claims']} false ones (5-fold cross-validation); wrote {HEAD_FILE}")  # fmt: skip


if __name__ == "__main__":
    main()
