"""The unbacked-claim detector on its labelled corpus (bench/data/claims.jsonl).

    python bench/claims.py [--split test|dev|all] [--errors]

Tune on dev only; the test split is the one reported in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.builtin import BUILTIN  # noqa: E402
from actions.registry import Registry  # noqa: E402
from moderation.claims import find_claims  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "data" / "claims.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=["test", "dev", "all"], default="test")
    parser.add_argument("--errors", action="store_true", help="list the misclassified sentences")
    args = parser.parse_args()
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if args.split == "all" or r["split"] == args.split]
    start = time.perf_counter()
    backer = Registry(BUILTIN).backer  # which built-in action would back a claim
    predicted = [bool(find_claims(r["text"], set(r["executed"]), backer)) for r in rows]
    per_sentence = (time.perf_counter() - start) / len(rows)
    tp = sum(p and r["label"] == "claim" for p, r in zip(predicted, rows, strict=True))
    fp = sum(p and r["label"] != "claim" for p, r in zip(predicted, rows, strict=True))
    fn = sum(not p and r["label"] == "claim" for p, r in zip(predicted, rows, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    print(f"{args.split} split: {len(rows)} sentences, {tp + fn} claims")
    print(f"precision {precision:.3f}  recall {recall:.3f}  ({per_sentence * 1e6:.0f} µs per sentence)")
    wrong = Counter(r["case"] for p, r in zip(predicted, rows, strict=True) if p != (r["label"] == "claim"))
    total = Counter(r["case"] for r in rows)
    print("errors by case: " + ", ".join(f"{c} {wrong[c]}/{n}" for c, n in sorted(total.items())))
    if args.errors:
        for p, r in zip(predicted, rows, strict=True):
            if p != (r["label"] == "claim"):
                print(f"  {'FP' if p else 'FN'} [{r['case']}] {r['text']}")


if __name__ == "__main__":
    main()
