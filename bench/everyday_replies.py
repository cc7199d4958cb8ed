"""Moderation on the embedded model's own replies to everyday questions (issue 10).

`bench/data/everyday_questions.txt` holds 320 benign questions on 16 topics whose answers use
alarming words (killing processes, overdose limits, genocide in history, butchering a chicken...),
written by a helper that had seen neither Parley's code nor its data. `--generate` asks the
embedded model each of them as `parley ask` would (the default preset and the actions prompt,
the shipped sampling, seed 0) and writes `everyday_replies.jsonl`, split dev/test by a hash of
the question; it was generated once, before the moderation was retrained on advice and
counter-speech, and is committed. Without `--generate`, the moderation as shipped checks every
reply as a whole and sentence by sentence: any reply withheld or sentence removed is a false
positive (the questions are benign; the flagged replies are printed, to be read).

    python bench/everyday_replies.py [--generate] [--split test|dev|all] [--backend auto|contextual|offline]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.registry import Registry  # noqa: E402
from chat.config import find_config, load_config  # noqa: E402
from chat.conversation import Conversation  # noqa: E402
from chat.engine import TextDelta  # noqa: E402
from chat.models import load_engine  # noqa: E402
from moderation.config import ModerationConfig  # noqa: E402
from moderation.filter import Moderator  # noqa: E402
from moderation.sentences import split_sentences  # noqa: E402
from prompts import load_presets  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
QUESTIONS = DATA / "everyday_questions.txt"
REPLIES = DATA / "everyday_replies.jsonl"
TOPICS = 16  # 20 questions each, in order (see the file's writer's brief in RESULTS.md)


def split_of(question: str) -> str:
    return "test" if hashlib.sha256(question.encode()).digest()[0] % 2 else "dev"


def generate() -> None:
    config = load_config(find_config())
    name, model = config.model(None)
    conversation = Conversation(actions_prompt=Registry.from_config(config.actions).prompt())
    conversation.system = load_presets()[model.prompt].text
    params = model.sampling.model_copy(update={"seed": 0})
    engine = load_engine(name, model)
    questions = QUESTIONS.read_text(encoding="utf-8").splitlines()
    with REPLIES.open("w", encoding="utf-8") as out:
        for i, question in enumerate(questions):
            events = engine.stream(conversation.context_messages(question), params, threading.Event())
            reply = "".join(e.text for e in events if isinstance(e, TextDelta))
            row = {"question": question, "topic": i // (len(questions) // TOPICS), "reply": reply,
                   "split": split_of(question)}  # fmt: skip
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            print(f"{i + 1}/{len(questions)}", end="\r", flush=True)
    engine.close()
    print(f"wrote {REPLIES}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--split", default="test", choices=["test", "dev", "all"])
    parser.add_argument("--backend", default="auto", choices=["auto", "offline", "contextual", "detoxify"])
    args = parser.parse_args()
    if args.generate:
        generate()
        return
    rows = [json.loads(line) for line in REPLIES.read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if args.split == "all" or r["split"] == args.split]
    moderator = Moderator(ModerationConfig(backend=args.backend))
    moderator.load()
    decisions: Counter[str] = Counter()
    withheld = removed = sentences = 0
    start = time.perf_counter()
    for row in rows:
        parts = [s for s in split_sentences(row["reply"]) if s.strip()]
        verdicts = [moderator.check(s) for s in parts]
        sentences += len(parts)
        worst = [v for v in verdicts if v.decision in ("redact", "block")]
        removed += len(worst)
        withheld += any(v.decision == "block" for v in verdicts)
        decisions.update(v.decision for v in verdicts)
        for part, verdict in zip(parts, verdicts, strict=True):
            if verdict.decision != "allow":
                print(f"  {verdict.decision:<6} {verdict.scores_text():<28} {part.strip()[:110]!r}")
    seconds = time.perf_counter() - start
    print(f"\n{moderator.backend_name}, {args.split} split: {len(rows)} replies, {sentences} sentences "
          f"({seconds / max(sentences, 1) * 1e3:.1f} ms each)")  # fmt: skip
    print(f"replies withheld (a sentence blocked): {withheld} ({withheld / len(rows):.1%})")
    print(f"sentences redacted or blocked: {removed} ({removed / sentences:.2%}); warned: {decisions['warn']}")


if __name__ == "__main__":
    main()
