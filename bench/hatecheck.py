"""Moderation on HateCheck (Röttger et al., 2021), read in place.

HateCheck's templates are split by `templ_id` into a tuning half and a test half; every number
reported comes from the test half. The word models (alt-profanity-check, Parley's offline
backend) get a threshold chosen on the tuning half (best F1 with neutral/positive identity
mentions flagged at most 10% of the time). The contextual backend runs as shipped, through the
moderator with its default thresholds, which were chosen on its own training data: HateCheck
tunes nothing of it. A reply is flagged when the moderator's decision is not `allow` (a
warning counts); a second report counts only the categories of abuse (a profanity warning alone
not counted), a third only what Parley blocks (identity attacks, threats, self-harm; insults and
other abuse are redacted, profanity warned). Profanity is flagged on purpose, so `profanity_nh`
is reported apart and not counted as a failure.

    python bench/hatecheck.py [--data ../shared/data/hatecheck/test_suite_cases.csv] [--no-contextual]
                              [--half tuning]  # the tuning half instead, to decide a change on
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.backends import OfflineBackend  # noqa: E402
from moderation.config import ModerationConfig  # noqa: E402
from moderation.filter import Moderator  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hatecheck" / "test_suite_cases.csv"
IDENTITY = ("ident_neutral_nh", "ident_pos_nh")
SPELLING = ("spell_char_swap_h", "spell_char_del_h", "spell_space_del_h", "spell_space_add_h", "spell_leet_h")


def load(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def is_tuning(row: dict[str, str]) -> bool:
    return int(float(row["templ_id"])) % 2 == 0


def metrics(rows: list[dict[str, str]], flagged: dict[str, bool]) -> dict[str, float]:
    scored = [r for r in rows if r["functionality"] != "profanity_nh"]
    tp = sum(1 for r in scored if r["label_gold"] == "hateful" and flagged[r["case_id"]])
    fp = sum(1 for r in scored if r["label_gold"] != "hateful" and flagged[r["case_id"]])
    pos = sum(1 for r in scored if r["label_gold"] == "hateful")
    neg = len(scored) - pos
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / pos if pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "fpr": fp / neg if neg else 0.0}


def flag_rate(rows: list[dict[str, str]], flagged: dict[str, bool], functionality: str) -> float:
    chosen = [r for r in rows if r["functionality"] == functionality]
    return sum(flagged[r["case_id"]] for r in chosen) / len(chosen) if chosen else float("nan")


def tuned_threshold(tune: list[dict[str, str]], scores: dict[str, float]) -> float:
    """The best F1 on the tuning half with identity mentions flagged at most 10% of the time."""
    best = (-1.0, 0.5)
    for step in range(5, 96):
        flagged = {k: v >= step / 100 for k, v in scores.items()}
        if max(flag_rate(tune, flagged, f) for f in IDENTITY) <= 0.10:
            best = max(best, (metrics(tune, flagged)["f1"], step / 100))
    return best[1]


def report(name: str, cases: list[dict[str, str]], flagged: dict[str, bool], by_id: dict[str, dict[str, str]]) -> None:
    m = metrics(cases, flagged)
    half = "tuning" if all(is_tuning(r) for r in cases) else "test"
    print(f"## {name}")
    print(
        f"{half} half: precision {m['precision']:.3f}  recall {m['recall']:.3f}  F1 {m['f1']:.3f}  FPR {m['fpr']:.3f}"
    )
    print(f"{'functionality':<22} {'n':>4} {'flagged':>8}")
    for functionality in sorted({r["functionality"] for r in cases}):
        n = sum(1 for r in cases if r["functionality"] == functionality)
        print(f"{functionality:<22} {n:>4} {flag_rate(cases, flagged, functionality):>8.1%}")
    print(f"obfuscated hate vs the same sentences written plainly (ref_case_id), {half} half:")
    for functionality in SPELLING:
        spelt = [r for r in cases if r["functionality"] == functionality and r["ref_case_id"] in by_id]
        spelled = sum(flagged[r["case_id"]] for r in spelt) / len(spelt)
        plain = sum(flagged[by_id[r["ref_case_id"]]["case_id"]] for r in spelt) / len(spelt)
        gap = 100 * (plain - spelled)
        print(f"  {functionality:<20} {spelled:>6.1%} vs plain {plain:>6.1%} (gap {gap:+.1f} points)")
    print()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-contextual", action="store_true", help="only the word models")
    parser.add_argument("--half", choices=["test", "tuning"], default="test", help="the half reported")
    args = parser.parse_args()
    rows = load(args.data)
    by_id = {r["case_id"]: r for r in rows}
    tune = [r for r in rows if is_tuning(r)]
    test = [r for r in rows if not is_tuning(r)]
    shown = test if args.half == "test" else tune
    texts = [r["test_case"].strip() for r in rows]
    print(f"HateCheck: {len(rows)} cases, {len(tune)} tuning / {len(test)} test (split by templ_id)\n")

    backend = OfflineBackend()
    start = time.perf_counter()
    raw_scores = backend._predict(texts)  # the classifier alone, as written
    raw_time = time.perf_counter() - start
    start = time.perf_counter()
    full_scores = [s["toxicity"] for s in backend.score(texts)]  # with the normaliser
    full_time = time.perf_counter() - start
    word_models = {
        "alt-profanity-check alone": ([float(s) for s in raw_scores], raw_time),
        "Parley offline (normaliser + classifier)": (full_scores, full_time),
    }
    for name, (values, seconds) in word_models.items():
        scores = {r["case_id"]: v for r, v in zip(rows, values, strict=True)}
        threshold = tuned_threshold(tune, scores)
        flagged = {k: v >= threshold for k, v in scores.items()}
        report(f"{name}: threshold {threshold:.2f} (tuned), {seconds / len(rows) * 1e3:.3f} ms per item", shown,
               flagged, by_id)  # fmt: skip

    if not args.no_contextual:
        moderator = Moderator(ModerationConfig(backend="contextual"))
        moderator.load()
        start = time.perf_counter()
        verdicts = [moderator.check(text) for text in texts]
        seconds = time.perf_counter() - start
        flagged = {r["case_id"]: v.decision != "allow" for r, v in zip(rows, verdicts, strict=True)}
        report(f"Parley contextual, as shipped (default thresholds), {seconds / len(rows) * 1e3:.1f} ms per item",
               shown, flagged, by_id)  # fmt: skip
        # The same verdicts, counting only what a category of abuse flagged: a profanity warning
        # alone (the text shown, with a note) is Parley's policy for any swear word, the reason
        # profanity_nh is reported apart; here it is set apart in the other functionalities too.
        abuse = {r["case_id"]: any(c != "profanity" for c in v.flagged) for r, v in zip(rows, verdicts, strict=True)}
        report("Parley contextual, flagged by a category of abuse (profanity warnings alone not counted)",
               shown, abuse, by_id)  # fmt: skip
        # And what Parley blocks (its policy for identity attacks, threats and self-harm), as
        # against what it redacts (insults, toxicity, sexual harassment) or warns about (profanity).
        blocked = {r["case_id"]: v.decision == "block" for r, v in zip(rows, verdicts, strict=True)}
        report("Parley contextual, blocked (identity attacks, threats, self-harm)", shown, blocked, by_id)


if __name__ == "__main__":
    main()
