"""The moderation filter: the offline backend, the normaliser, streaming, failing closed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation import normalize, profanity
from moderation.backends import OfflineBackend
from moderation.config import ModerationConfig
from moderation.filter import Moderator
from moderation.normalize import WORDS_FILE, unicode_fold
from moderation.sentences import clauses, split_sentences
from moderation.stream import OVERLAP, StreamFilter
from moderation.training import words


class WordBackend:
    """Flags the words it is given, per category; records what it was asked to score."""

    name = "words"

    def __init__(self, words: dict[str, str] | None = None) -> None:
        self.words = words or {"BAD": "insult", "KILL": "threat", "DARN": "profanity"}
        self.seen: list[str] = []

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.seen.extend(texts)
        return [{cat: (0.9 if word in text else 0.0) for word, cat in self.words.items()} for text in texts]


def REDACTED(category: str) -> str:  # noqa: N802 - a constant in spirit
    return f"[removed: {category}]"


def moderator(backend: object, **config: object) -> Moderator:
    return Moderator(ModerationConfig(**config), lambda _: backend)  # type: ignore[arg-type, return-value]


@pytest.fixture(scope="module")
def offline() -> OfflineBackend:
    return OfflineBackend()


def test_offline_backend_on_real_sentences(offline: OfflineBackend) -> None:
    abusive = ["You are a worthless idiot.", "Shut up, you stupid bitch.", "I will fucking kill you."]
    benign = ["Have a nice day!", "The capital of France is Paris.", "Thanks for your help with the report."]
    assert all(s["toxicity"] > 0.8 for s in offline.score(abusive))
    assert all(s["toxicity"] < 0.3 for s in offline.score(benign))


@pytest.mark.parametrize(
    ("obfuscated", "plain"),
    [
        ("I h a t e you", "i hate you"),
        ("I h4te you", "i hate you"),
        ("Ihate you", "i hate you"),
        ("I haet you", "i hate you"),
        ("you are an іdіоt", "you are an idiot"),  # Cyrillic і and о
        ("you are an ｉｄｉｏｔ", "you are an idiot"),  # full-width
        ("f.u.c.k off", "fuck off"),
        ("you are a stu\u200bpid man", "you are a stupid man"),  # zero-width space
        ("I will killllll youuuu", "i will kill you"),  # letters held
        ("you stuuuupid biiiitch", "you stupid bitch"),
        ("I will k*ll you", "i will kill you"),  # letters starred out
        ("go k**l yourself", "go kill yourself"),
        ("Iwillkillyou", "i will kill you"),  # words run together
        ("youareanidiot", "you are an idiot"),
        ("just kys", "just kill yourself"),
        ("k y s", "kill yourself"),
        ("STFU already", "shut the fuck up already"),
    ],
)
def test_normaliser_undoes_obfuscations(offline: OfflineBackend, obfuscated: str, plain: str) -> None:
    assert offline.normalize(obfuscated) == plain


def test_normaliser_leaves_plain_text_alone(offline: OfflineBackend) -> None:
    for text in ["Have a nice day!", "I live with two women.", "Call 555-1234 at 10:30.", "The year 2024 was fine.",
                 "A **bold** claim.", "Deploy it on Kubernetes."]:  # fmt: skip
        assert offline.normalize(text) == unicode_fold(text)


def test_english_words_are_never_repaired_into_swear_words(offline: OfflineBackend) -> None:
    # each is one edit from a swear word or splits into two words, and was flagged in model replies
    for text in ["deal with slugs", "a damp cloth", "share the chores", "see a therapist"]:
        assert offline.normalize(text) == text
    assert offline.normalize("i haet you") == "i hate you"  # a word that is no English word still is


def test_names_are_not_repaired_into_swear_words_by_taking_a_letter_out(offline: OfflineBackend) -> None:
    # "Titus" minus its u is a swear word: every answer about Roman history drew a warning
    for text in ["Titus was a Roman emperor.", "Livy (Titus Livius) wrote a history of Rome."]:
        assert "tits" not in offline.normalize(text)
        assert profanity.score(text, offline.normalize(text)) == 0.0
    assert offline.normalize("fuuck that") == "fuck that"  # a doubled letter is still taken out


def test_a_word_longer_than_any_it_knows_is_not_edited(
    offline: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no edit of it is a word it knows; listing them for a 60,000-letter "word" took gigabytes
    def edits(word: str) -> set[str]:
        raise AssertionError(f"edits of a {len(word)}-letter word")

    monkeypatch.setattr(normalize, "_edits", edits)
    assert offline.normalize("ab*" * 30_000) == "ab" * 30_000 + "*"  # separators between letters go


def test_the_shipped_word_table_is_the_installed_word_model_s() -> None:
    """words.json lets the normaliser start without scikit-learn; it must not drift from the
    model it was taken from (rerun `python -m moderation.training.words` when it changes)."""
    assert json.loads(WORDS_FILE.read_text(encoding="utf-8")) == words.table()


def test_obfuscated_abuse_scores_like_the_plain_form(offline: OfflineBackend) -> None:
    plain, spaced, leet = (s["toxicity"] for s in offline.score(["you idiot", "you i d i o t", "you 1d10t"]))
    assert spaced == pytest.approx(plain) and leet == pytest.approx(plain)


LONG = "First we set up the project, then we add the tests; after that, BAD person, we ship it to the users today."


def test_a_long_sentence_is_also_read_clause_by_clause() -> None:
    assert clauses(LONG) == [
        "First we set up the project,", "then we add the tests;", "after that, BAD person,",  # "after that," is short
        "we ship it to the users today.",
    ]  # fmt: skip
    assert clauses("A short one, with a comma.") == []
    assert clauses(" ".join(["word"] * 20)) == []  # nothing to split at
    assert moderator(WordBackend()).check(LONG).flagged == ("insult",)  # the whole has it too


def test_a_clause_counts_only_where_it_scores_over_the_floor() -> None:
    class ClauseBackend(WordBackend):
        """Scores the clauses of LONG (shorter than it) `value`, LONG itself 0."""

        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
            return [{"insult": self.value if len(t) < len(LONG) else 0.0} for t in texts]

    assert moderator(ClauseBackend(0.95), thresholds={"insult": 0.5}).check(LONG).decision == "allow"
    assert moderator(ClauseBackend(0.98), thresholds={"insult": 0.5}).check(LONG).flagged == ("insult",)


def test_thresholds_actions_and_worst_action_wins() -> None:
    mod = moderator(WordBackend())
    assert mod.check("fine text").decision == "allow"
    verdict = mod.check("You BAD person. I will KILL you.")
    assert verdict.decision == "block" and verdict.flagged == ("threat", "insult")
    assert mod.check("DARN it").decision == "warn"
    relaxed = moderator(WordBackend(), thresholds={"threat": 0.95})
    assert relaxed.check("I will KILL you").decision == "allow"


def test_backend_that_raises_fails_closed_or_open() -> None:
    class Broken:
        name = "broken"

        def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
            raise RuntimeError("model exploded")

    closed = moderator(Broken()).check("hello")
    assert closed.decision == "block" and closed.error == "model exploded"
    opened = moderator(Broken(), fail="open").check("hello")
    assert opened.decision == "allow" and opened.error == "model exploded"


def test_backend_that_hangs_times_out_closed() -> None:
    release = threading.Event()

    class Hung:
        name = "hung"

        def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
            release.wait(30)
            return [{} for _ in texts]

    mod = moderator(Hung(), timeout_s=0.2)
    start = time.perf_counter()
    verdict = mod.check("hello")
    assert verdict.decision == "block" and "timed out" in (verdict.error or "")
    assert time.perf_counter() - start < 2
    stream = StreamFilter(mod, REDACTED)
    assert stream.feed("Hello there. ") == "" and stream.blocked is not None  # nothing unmoderated shown
    release.set()


def test_a_backend_that_cannot_load_fails_closed() -> None:
    def factory(config: ModerationConfig) -> object:
        raise FileNotFoundError("no weights")

    mod = Moderator(ModerationConfig(), factory)  # type: ignore[arg-type]
    verdict = mod.check("hi")
    assert verdict.decision == "block" and "no weights" in (verdict.error or "")
    assert "failed: FileNotFoundError: no weights" in mod.describe()


def test_stream_redacts_a_sentence_and_blocks_the_rest() -> None:
    stream = StreamFilter(moderator(WordBackend()), REDACTED)
    out = stream.feed("Hello. You are BAD") + stream.feed(". Fine again. ")
    assert out == "Hello. [removed: insult] Fine again. "
    out = stream.feed("Now I KILL. And more text.") + stream.finish()
    assert out == "" and stream.blocked is not None and stream.decision == "block"


def test_long_text_without_sentence_ends_is_released_in_bounded_pieces() -> None:
    backend = WordBackend()
    stream = StreamFilter(moderator(backend), REDACTED, hold_chars=40)
    released = ""
    for word in ["word "] * 30:
        before = len(released)
        released += stream.feed(word)
        assert len(stream.buffer) < 40 or len(released) > before  # never more than 40 held back
    # a piece cut mid-sentence is scored with the end of the one before it
    assert released and all(len(text) <= 40 + OVERLAP for text in backend.seen)
    assert released + stream.finish() == "word " * 30


def test_split_sentences_round_trips() -> None:
    text = "One. Two! Three?\nFour 3.14 five"
    assert "".join(split_sentences(text)) == text
    assert split_sentences(text)[:3] == ["One. ", "Two! ", "Three?\n"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["Hello", " ", ". ", "BAD", "!", "\n", "ok", "KILL", "DARN", "x" * 7]), max_size=30),
    st.lists(st.integers(1, 12), min_size=1, max_size=30),
)
def test_stream_never_releases_unmoderated_text(parts: list[str], sizes: list[int]) -> None:
    text = "".join(parts)
    chunks, rest = [], text
    for size in sizes * 10:
        if not rest:
            break
        chunks.append(rest[:size])
        rest = rest[size:]
    if rest:
        chunks.append(rest)
    backend = WordBackend()
    stream = StreamFilter(moderator(backend), REDACTED, hold_chars=25)
    released = ""
    for chunk in chunks:
        released += stream.feed(chunk)
        # everything shown so far was moderated: it is covered by what the backend has seen
        # (whitespace alone is released as it is: it cannot carry anything)
        shown = "".join(released.replace("[removed: insult]", "").split())
        assert len(shown) <= len("".join("".join(backend.seen).split()))
    released += stream.finish()
    clean = WordBackend({"NEVER": "insult"})
    clean_stream = StreamFilter(moderator(clean), REDACTED, hold_chars=25)
    clean_out = "".join(clean_stream.feed(c) for c in chunks) + clean_stream.finish()
    assert clean_out == text  # nothing flagged: the released text equals the input
    if stream.blocked is None:
        for piece in released.split("[removed: insult]"):
            assert piece in text


def test_a_long_run_is_never_cut_inside_a_word() -> None:
    backend = WordBackend()
    stream = StreamFilter(moderator(backend), REDACTED, hold_chars=200)
    out = stream.feed("=" * 198 + "BAD.") + stream.finish()
    assert "BAD" not in out and "[removed: insult]" in out
    assert any("BAD" in seen for seen in backend.seen)  # the word was scored whole


def test_a_word_joined_by_markup_across_a_cut_is_scored_whole() -> None:
    stream = StreamFilter(moderator(WordBackend()), REDACTED, hold_chars=200)
    out = stream.feed("=" * 190 + "[BA](https://x)D. Fine.") + stream.finish()
    assert out.endswith("[removed: insult] Fine.")  # the piece that completes the word is removed


def test_a_run_of_letters_cut_in_two_is_still_caught() -> None:
    stream = StreamFilter(moderator(WordBackend()), REDACTED, hold_chars=200)
    out = stream.feed("x" * 198 + "BAD and more") + stream.finish()
    assert "BAD" not in out and "[removed: insult]" in out


def test_a_flagged_piece_does_not_flag_the_next_one() -> None:
    stream = StreamFilter(moderator(WordBackend()), REDACTED, hold_chars=30)
    out = stream.feed("you are BAD and you know it well " + "fine words here and there ok. ") + stream.finish()
    assert out.count("[removed: insult]") == 1 and "fine words" in out


@pytest.mark.parametrize(
    "text",
    ["&#66;AD news", "[BA](https://x)D news", "B<b></b>AD news", "BA<!-- -->D news", "B**A**D news"],
)
def test_text_is_scored_as_it_renders(text: str) -> None:
    verdict = moderator(WordBackend()).check(text)
    assert verdict.flagged == ("insult",)
