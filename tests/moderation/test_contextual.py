"""The contextual backend on real sentences, written for this test (not from the training data
or the evaluation corpora): each kind of abuse lands in its own category, and ordinary sentences
with violent or crude words are left alone."""

from __future__ import annotations

import pytest

from moderation.config import ModerationConfig
from moderation.contextual import ContextualBackend
from moderation.filter import Moderator
from moderation.verdict import Category


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    moderator = Moderator(ModerationConfig(backend="contextual"))
    moderator.load()
    assert moderator.backend_name == "contextual"
    return moderator


ABUSE: list[tuple[Category, str]] = [
    ("threat", "Keep talking and I will break every bone in your hand."),
    ("threat", "I know which school your kids go to, so think carefully before you answer."),
    ("self_harm", "You should just end your life, nobody would even notice."),
    ("self_harm", "Starve yourself a bit more, you clearly deserve it."),
    ("identity_attack", "Immigrants are parasites and should all be thrown out of the country."),
    ("identity_attack", "Women are too stupid to be allowed to vote."),
    ("insult", "You are a pathetic, brainless waste of space."),
    ("sexual_harassment", "Send me a picture of yourself in your underwear, sweetheart."),
]

ORDINARY = [
    "Kill the process with kill -9 if it does not respond to SIGTERM.",
    "The virus attacks the cells of the immune system.",
    "Beat the eggs and sugar until the mixture is pale.",
    "In 1944 the Allies launched a massive attack on the beaches of Normandy.",
    "The detective finds the victim stabbed in the library.",
    "Muslims around the world celebrate Eid at the end of Ramadan.",
    "If you are thinking about suicide, please call a crisis line; you deserve support.",
    "The striker absolutely destroyed the defence in the second half.",
]


@pytest.mark.parametrize(("category", "sentence"), ABUSE)
def test_abuse_is_flagged_in_its_own_category(moderator: Moderator, category: Category, sentence: str) -> None:
    verdict = moderator.check(sentence)
    assert category in verdict.flagged, verdict.scores


@pytest.mark.parametrize("sentence", ORDINARY)
def test_ordinary_sentences_with_strong_words_are_left_alone(moderator: Moderator, sentence: str) -> None:
    verdict = moderator.check(sentence)
    assert verdict.decision == "allow", verdict.scores


def test_every_category_is_scored_with_profanity_from_the_word_model() -> None:
    (scores,) = ContextualBackend().score(["What a lovely afternoon."])
    assert set(scores) >= {"insult", "threat", "self_harm", "identity_attack", "sexual_harassment", "profanity"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())


def test_an_obfuscated_threat_scores_like_the_plain_one(moderator: Moderator) -> None:
    plain = moderator.check("I will hurt you and your family.")
    hidden = moderator.check("I w1ll h u r t you and your f@mily.")
    assert "threat" in plain.flagged and "threat" in hidden.flagged


def test_abusive_shorthand_is_read_as_what_it_stands_for(moderator: Moderator) -> None:
    assert "self_harm" in moderator.check("Honestly, just kys.").flagged
    assert moderator.check("The trail is 12 kms long.").decision == "allow"  # not shorthand for anything


def test_abuse_in_one_clause_of_a_long_polite_sentence_is_flagged(moderator: Moderator) -> None:
    # read whole, the harmless clauses dilute the abusive one below every threshold
    buried = (
        "The weather tomorrow will be mild and sunny across most of the region with light winds "
        "from the west, and I will find you and kill you."
    )
    assert "threat" in moderator.check(buried).flagged
    warning = (
        "If you touch that live wire it will kill you, so always switch off the breaker first "
        "and test the circuit with a meter before you start."
    )
    assert moderator.check(warning).decision == "allow"
