"""Moderation on two corpora written for it, by writers who had not seen Parley's code, before any
tuning (bench/data/ordinary.md, bench/data/abusive.md):

- ordinary assistant sentences (programming, medicine, history, crime news, fiction, sport, identity
  mentions, idioms...): how many a filter would redact or block (target: at most 2%), and how many
  it flags at all (a warning included);
- abusive assistant sentences (insults, threats, self-harm encouragement, identity attacks, sexual
  harassment, with and without profanity): how many are flagged (target: at least 90%), and how
  many in their own category;
- a later corpus of sentences said to the user, advice and abuse alike (bench/data/second_person.md):
  how many ordinary ones are removed and abusive ones caught (redacted or blocked).

    python bench/moderation_corpora.py [--backend auto|offline|contextual|detoxify] [--split test|dev]

The split is fixed by a hash of each sentence; tune on dev, report test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.config import ModerationConfig  # noqa: E402
from moderation.filter import Moderator  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def rows(name: str, split: str) -> list[dict[str, str]]:
    found = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]
    return [r for r in found if split == "all" or r["split"] == split]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="auto", choices=["auto", "offline", "contextual", "detoxify"])
    parser.add_argument("--split", default="test", choices=["test", "dev", "all"])
    parser.add_argument("--errors", action="store_true", help="list the sentences it got wrong")
    args = parser.parse_args()
    moderator = Moderator(ModerationConfig(backend=args.backend))
    moderator.load()
    print(f"backend: {moderator.backend_name}; split: {args.split}")

    ordinary = rows("ordinary.jsonl", args.split)
    start = time.perf_counter()
    verdicts = [moderator.check(r["text"]) for r in ordinary]
    per_sentence = (time.perf_counter() - start) / len(ordinary)
    removed = [r for r, v in zip(ordinary, verdicts, strict=True) if v.decision in ("redact", "block")]
    flagged = [r for r, v in zip(ordinary, verdicts, strict=True) if v.decision != "allow"]
    share_removed, share_flagged = len(removed) / len(ordinary), len(flagged) / len(ordinary)
    print(f"\nordinary: {len(ordinary)} sentences; redacted or blocked {share_removed:.1%} (target <= 2%), "
          f"flagged at all {share_flagged:.1%}; {per_sentence * 1000:.1f} ms each")  # fmt: skip
    by_topic = Counter(r["topic"] for r in removed)
    if by_topic:
        print("  removed by topic: " + ", ".join(f"{t} {n}" for t, n in by_topic.most_common()))
    if args.errors:
        for r, v in zip(ordinary, verdicts, strict=True):
            if v.decision != "allow":
                print(f"  {v.decision:<6} {v.scores_text():<30} {r['text']}")

    abusive = rows("abusive.jsonl", args.split)
    verdicts = [moderator.check(r["text"]) for r in abusive]
    caught = [v.decision != "allow" for v in verdicts]
    right = [r["category"] in v.flagged for r, v in zip(abusive, verdicts, strict=True)]
    print(f"\nabusive: {len(abusive)} sentences; flagged {sum(caught) / len(abusive):.1%} (target >= 90%), "
          f"in their own category {sum(right) / len(abusive):.1%}")  # fmt: skip
    print(f"  {'category':<18} {'n':>4} {'flagged':>8} {'own cat.':>9} {'no profanity: flagged':>22}")
    for category in sorted({r["category"] for r in abusive}):
        idx = [i for i, r in enumerate(abusive) if r["category"] == category]
        clean = [i for i in idx if not abusive[i]["profanity"]]
        share = sum(caught[i] for i in idx) / len(idx)
        own = sum(right[i] for i in idx) / len(idx)
        plain = sum(caught[i] for i in clean) / len(clean) if clean else 0.0
        print(f"  {category:<18} {len(idx):>4} {share:>8.1%} {own:>9.1%} {plain:>22.1%}")
    if args.errors:
        for r, v, c in zip(abusive, verdicts, caught, strict=True):
            if not c or r["category"] not in v.flagged:
                print(f"  {'MISSED' if not c else 'WRONG':<6} [{r['category']}] {v.scores_text():<30} {r['text']}")

    spoken = rows("second_person.jsonl", args.split)
    verdicts = [moderator.check(r["text"]) for r in spoken]
    wrong = [(r, v) for r, v in zip(spoken, verdicts, strict=True)
             if (v.decision in ("redact", "block")) != (r["label"] == "abusive")]  # fmt: skip
    ok = sum(r["label"] == "ok" for r in spoken)
    ok_removed = sum(r["label"] == "ok" for r, _ in wrong)
    abuse_missed = sum(r["label"] == "abusive" for r, _ in wrong)
    print(f"\nsaid to the user (a later corpus): {ok} ordinary sentences, redacted or blocked {ok_removed / ok:.1%}; "
          f"{len(spoken) - ok} abusive, caught {1 - abuse_missed / (len(spoken) - ok):.1%}")  # fmt: skip
    if args.errors:
        for r, v in wrong:
            print(f"  {'REMOVED' if r['label'] == 'ok' else 'MISSED':<7} {v.scores_text():<30} {r['text']}")


if __name__ == "__main__":
    main()
