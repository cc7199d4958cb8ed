"""The unbacked-claim detector on sentences of its own: any verb in any form of a claim, the same
verbs where they claim nothing, what an action backs, and claims found as text streams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.config import ActionsConfig, CommandActionConfig
from actions.registry import Registry
from moderation.claims import UNCHECKED, ClaimWatch, find_claims, lemma, sentence_claim, verb_form
from moderation.lexicon import LEXICON_FILE

REGISTRY = Registry.from_config(ActionsConfig())


@pytest.mark.parametrize(
    "sentence",
    [
        "I've defrosted the freezer in your flat.",  # perfect, a verb on no list
        "We re-routed your parcel to the depot on Mill Lane.",  # simple past, hyphenated
        "I unfroze the card this morning.",  # an irregular past with a prefix
        "I had the deed notarised yesterday.",  # causative
        "I'm whitelisting your address as we speak.",  # progressive, a word the tables lack
        "I'll courier the spare keys tomorrow.",  # commitment with a noun used as a verb
        "Let me ring the depot for you.",
        "We're going to waive the late fee.",
        "Your boiler service has been pencilled in for Friday.",  # passive result
        "£12 has been reimbursed to your card.",  # passive with an amount as subject
        "Your locker is now unlocked.",
        "The garage door is shut and the lights are dimmed.",  # present passives that report
        "Your court is reserved for Thursday at six.",
        "I've been chasing the courier all morning.",  # perfect progressive
        "I wrote off the remaining balance.",  # phrasal: "write off" acts
        "I read the letter and have already disputed the charge.",  # a second verb carries the claim
        "Email sent.",  # elliptical, as status lines are written: no auxiliary...
        "Reminder set for 9am.",
        "Booking confirmed: table for 2 at 8pm.",
        "Cancelled your 3pm appointment.",  # ...no subject
        "Sure, rescheduled it to Monday.",
        "Refund: issued.",
        "Sending the invoice now.",
        "Will ring you back within the hour.",
        "Your order has been cancelled by our team.",  # the assistant's own side as the agent
        "Your refund has been issued by bank transfer.",  # "by" a means, not an agent
        "Your refund will be processed by the end of the week.",  # "by" a time
        "Your card has been replaced by a new one.",  # "by" what takes its place
    ],
)
def test_claims_with_any_verb_are_found(sentence: str) -> None:
    assert find_claims(sentence), sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "Defrosting a freezer takes about a day.",  # explanation
        "You can re-route the parcel from the tracking page.",  # instruction
        "If I could, I would unfreeze the card now.",  # hypothetical
        "I haven't notarised anything, and I cannot.",  # refusal
        "Would you like me to waive the fee?",  # offer
        "The courier re-routed it to the depot.",  # a third party
        "You've already whitelisted the address.",  # the user's own act
        "I've summarised the courier's terms below.",  # work in the reply
        "I've put together a checklist for the move.",
        "Let me explain how the refund works.",
        'The note said "I have cancelled the lease".',  # quoted
        "Late fees are usually waived for first offences.",  # generic passive
        "I'm sorry about the delay.",
        "I'll need your order number first.",
        "I'm not permitted to change an address once an order is packed.",
        "The granola is baked with honey and oats.",  # a present passive that describes
        "Our returns desk is staffed by volunteers on Sundays.",
        "I've got two questions about your account.",  # having, not doing
        "That is not what was promised in the advert.",  # a clause, not a result
        "Verifying that the parcel was scanned is the first step.",
        "Run the following commands:",  # an imperative whose verb looks like a participle
        "Photo taken in 1920.",  # a caption describes
        "Orders shipped Monday to Friday.",  # policy
        "Chopped onions, about two cups.",  # a recipe's
        "The courier delivered it yesterday.",  # a third party's act
        "The link you sent doesn't work.",
        "Recommended settings:",
        "Sending a parcel abroad takes a week.",  # no "now": an explanation
        "⟦removed: toxicity⟧ Have a nice day.",  # Parley's own mark, in the text as it is shown
        "✓ Tested on Linux and macOS.",  # a check mark is no label
        "The file has been deleted by the cron job.",  # a passive whose agent is someone else
        "Your package has been delayed by the storm.",
        "I've worked with Python for years.",  # experience, not an act just done
        "I've been sailing the seven seas for over 30 years now, and I've seen it all.",
    ],
)
def test_the_same_verbs_without_a_claim_are_left_alone(sentence: str) -> None:
    assert find_claims(sentence) == [], sentence


def test_verb_forms_come_from_the_inflection_tables() -> None:
    assert verb_form("booked") == ("book", frozenset({"past"}))
    assert verb_form("rang") == ("ring", frozenset({"past"}))
    assert "ing" in verb_form("couriering")[1]  # type: ignore[index]
    assert verb_form("happy") is None  # an adjective
    assert lemma("re-routed") == "re-route" and lemma("unfroze") == "unfreeze"


def test_the_shipped_word_forms_are_the_installed_lemminflect_s() -> None:
    """lexicon.json lets the claim detector start without parsing lemminflect's tables; it must
    not drift from them (rerun `python -m moderation.training.lexicon` when lemminflect changes)."""
    from moderation.training import lexicon as written

    shipped = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    assert shipped == written.table()
    assert len(shipped["verbs"]) > 20_000 and shipped["verbs"]["rerouted"] == ["reroute", "past"]


def test_a_claim_names_what_it_claims_and_why_nothing_backs_it() -> None:
    (claim,) = find_claims("Thanks for waiting. I've reimbursed the £40 to your card.")
    assert claim.sentence == "I've reimbursed the £40 to your card." and claim.verb == "reimbursed"
    assert claim.kind == "world" and "cannot move money" in claim.reason


def test_an_action_that_ran_backs_only_its_own_claims() -> None:
    backers = REGISTRY.backers
    assert find_claims("I've saved that to your notes.", {"save_note"}, backers) == []
    (claim,) = find_claims("I've saved that to your notes and emailed your boss.", {"save_note"}, backers)
    assert claim.verb == "emailed" and claim.kind == "world"
    # a file claim is backed by the file action, even when another action could save too
    assert find_claims("I saved it in your notes file.", {"write_file"}, backers) == []


def test_a_command_action_backs_the_claims_it_declares_about_its_things() -> None:
    notify = CommandActionConfig(description="notify", argv=["true"], enabled=True, backs=["send", "notify"],
                                 about=["notification"])  # fmt: skip
    backers = Registry.from_config(ActionsConfig(commands={"notify": notify})).backers
    assert find_claims("I've sent the notification.", {"notify"}, backers) == []
    (claim,) = find_claims("I've sent the email.", {"notify"}, backers)
    assert claim.kind == "world"  # "notify" backs notifications only
    (claim,) = find_claims("I've sent the notification.", set(), backers)
    assert claim.kind == "notify"  # it would back it, but did not run


def test_claims_are_found_sentence_by_sentence_as_text_streams() -> None:
    watch = ClaimWatch(REGISTRY.backers)
    assert watch.release("Sure thing. I've re-")[1] == []
    assert watch.release("booked your slot for ")[1] == []  # the sentence is not over yet
    (claim,) = watch.release("Monday. And I've ")[1]
    assert claim.sentence == "I've re-booked your slot for Monday." and claim.kind == "world"
    # a claim an action could back waits for the end of the turn (the action may still run)
    assert watch.release("saved it to your notes. Anything else? ")[1] == []
    assert watch.told == {"I've re-booked your slot for Monday."}


def test_a_quotation_over_several_sentences_is_not_the_assistants_claim() -> None:
    letter = (
        'Here is a draft: "The boiler in flat 3B has been broken since Monday. We have sent an engineer, '
        'but nobody came. Please call me back." I have sent it to your landlord.'
    )
    claims = find_claims(letter)
    assert [c.sentence for c in claims] == ["I have sent it to your landlord."]
    watch = ClaimWatch()
    told = [c.sentence for piece in letter.split(" ") for c in watch.release(piece + " ")[1]]
    assert told == ["I have sent it to your landlord."]  # the same while it streams
    curly = "Try: “I’ve cancelled the order. I’ve refunded you.” It reads well."
    assert find_claims(curly) == []


def test_code_and_the_users_own_words_are_not_claims() -> None:
    reply = 'Try this:\n```python\nprint("I have sent the money. I booked the flight.")\n```\nI have booked it.'
    assert [c.sentence for c in find_claims(reply)] == ["I have booked it."]
    said = "I cancelled the card yesterday. Why was I charged again?"
    echo = "I cancelled the card yesterday. I have refunded you."  # the first is the user's sentence
    assert [c.sentence for c in find_claims(echo, said=said)] == ["I have refunded you."]
    watch = ClaimWatch(said=said)
    assert [c.sentence for c in watch.release(echo + " ")[1]] == ["I have refunded you."]


DATA = Path(__file__).resolve().parents[2] / "bench" / "data"

# Words the grammar looks at (subjects, auxiliaries, "make sure to", "get ... sorted", labels,
# participles), so that random runs of them reach its corners.
_GRAMMAR_WORDS = [
    "I", "I'll", "I've", "I'm", "we", "We've", "let", "me", "us", "make", "sure", "to", "get", "have", "has",
    "been", "and", "the", "your", "order", "booked", "sent", "cancelled", "will", "be", "is", "now", "done",
    "refund", "processed", "sorted", ":", "-", "—", ",", ".", "✓", "by", "with", "in", "1920", "not", "just",
    "Sure", "Email", "Table", "sending", "Will", "Refund:", "⟦removed:", "toxicity⟧", '"', "it", "you",
]  # fmt: skip


def test_no_prefix_of_a_corpus_sentence_trips_the_grammar() -> None:
    """A reply cut at max_tokens ends anywhere: "I'll make sure to" once raised an IndexError
    that ended the TUI and lost the turn. Every word prefix of every written sentence is checked."""
    texts = [json.loads(line)["text"] for name in ("claims_written.jsonl", "claims_elliptical.jsonl")
             for line in (DATA / name).read_text(encoding="utf-8").splitlines()]  # fmt: skip
    for text in texts:
        words = text.split()
        for n in range(1, len(words) + 1):
            claim = sentence_claim(" ".join(words[:n]))
            assert claim is None or not claim.reason.startswith(UNCHECKED), " ".join(words[:n])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_GRAMMAR_WORDS), max_size=12))
def test_any_run_of_words_is_checked_without_a_fault(words: list[str]) -> None:
    claim = sentence_claim(" ".join(words))
    assert claim is None or not claim.reason.startswith(UNCHECKED)


def test_a_fault_in_the_grammar_flags_the_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(sentence: str) -> list[str]:
        raise IndexError("list index out of range")

    monkeypatch.setattr("moderation.claims._claim_verbs", broken)
    claim = sentence_claim("I'll make sure to")
    assert claim is not None and claim.kind == "world" and claim.reason == f"{UNCHECKED} (IndexError)"
