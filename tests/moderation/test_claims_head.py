"""The claim detector's learned check on real sentences (written for this test, not from its
training data or the evaluation corpora): it keeps the grammar's claims about this customer's
things and drops passives that describe the world; a head for another encoder is refused, and
without the check the grammar decides alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chat.scripted_engine import ScriptedLoader
from chat.session import Session
from moderation import claims, encoder
from moderation.backends import BackendError
from moderation.claims_head import HEAD_FILE, ClaimHead, load_check
from tests.conftest import fake_config

CLAIMS = [
    "I have moved your dentist appointment to Thursday at 9am.",
    "Your gym membership has been frozen until March.",
    "I am transferring you to a billing specialist now.",
    "I will post the replacement charger to you tomorrow.",
    "We refunded the delivery fee to your card this morning.",
]
# Passives the grammar takes for results: states and history, not something done for the user.
DESCRIPTIONS = [
    "The museum was founded in 1872 by a group of merchants.",
    "The bridge was closed for repairs last winter.",
    "The flat was painted last spring, according to the listing.",
]


@pytest.fixture(scope="module")
def head() -> ClaimHead:
    return ClaimHead.load(encoder.shared().embed)


@pytest.mark.parametrize("sentence", CLAIMS)
def test_claims_are_kept(head: ClaimHead, sentence: str) -> None:
    assert claims.sentence_claim(sentence, confirm=head.confirms) is not None


@pytest.mark.parametrize("sentence", DESCRIPTIONS)
def test_descriptions_the_grammar_flags_are_dropped(head: ClaimHead, sentence: str) -> None:
    assert claims.sentence_claim(sentence) is not None  # the grammar alone flags it
    assert claims.sentence_claim(sentence, confirm=head.confirms) is None


def test_a_head_trained_on_another_encoder_is_refused(tmp_path: Path) -> None:
    data = json.loads(HEAD_FILE.read_text(encoding="utf-8"))
    other = tmp_path / "claims_head.json"
    other.write_text(json.dumps({**data, "encoder": "0" * 64}), encoding="utf-8")
    with pytest.raises(BackendError, match="another encoder"):
        ClaimHead.load(encoder.shared().embed, other)


def test_when_the_encoder_fails_the_grammar_has_the_word(head: ClaimHead) -> None:
    def broken(_: object) -> np.ndarray:
        raise RuntimeError("llama_decode returned -1")

    failing = ClaimHead(head.weights, head.bias, broken)
    assert claims.sentence_claim(DESCRIPTIONS[0], confirm=failing.confirms) is not None


def test_without_a_prepared_encoder_the_grammar_decides_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(encoder, "candidate_paths", lambda: [tmp_path / "absent.gguf"])
    check, why = load_check()
    assert check is None and "parley moderation prepare" in why


def test_the_session_uses_the_check_unless_configured_off(tmp_path: Path) -> None:
    learned = Session(fake_config(tmp_path), ScriptedLoader())
    assert learned.claim_check is not None and not learned.claim_check(DESCRIPTIONS[1])
    grammar = Session(fake_config(tmp_path, actions='claim_check = "grammar"'), ScriptedLoader())
    assert grammar.claim_check is None
