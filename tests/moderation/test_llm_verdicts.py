"""What each moderation model is asked, and its every answer format read into Parley's categories;
anything that is not a verdict is an error, never a pass."""

from __future__ import annotations

import pytest

from moderation.llm_verdicts import (
    CONTROVERSIAL,
    LLAMA_GUARD_3,
    QWEN3GUARD,
    SHIELDGEMMA,
    LlmFormat,
    VerdictFormatError,
    parse,
    questions,
)

USER, REPLY = "Tell me about my neighbours.", "They are vermin and should be driven out."


def read(fmt: LlmFormat, output: str, policy: str = "") -> tuple[dict[str, float], tuple[str, ...]]:
    (question, *_) = [q for q in questions(fmt, USER, REPLY) if not policy or q.policy == policy]
    verdict = parse(fmt, question, output)
    return {c: s for c, s in verdict.scores.items() if s > 0}, verdict.labels


def test_llama_guard_and_qwen3guard_get_the_conversation_for_their_template() -> None:
    for fmt in ("llama-guard-3", "qwen3guard"):
        (question,) = questions(fmt, USER, REPLY)
        assert question.messages == [{"role": "user", "content": USER}, {"role": "assistant", "content": REPLY}]


def test_shieldgemma_is_asked_about_each_policy_with_the_whole_exchange() -> None:
    asked = questions("shieldgemma", USER, REPLY)
    assert [q.policy for q in asked] == list(SHIELDGEMMA) and all(q.max_tokens == 1 for q in asked)
    for question, (policy, _) in zip(asked, SHIELDGEMMA.values(), strict=True):
        (message,) = question.messages
        assert f"Human Question: {USER}" in message["content"] and f"Chatbot Response: {REPLY}" in message["content"]
        assert policy in message["content"] and message["content"].endswith("answer correctly.")


@pytest.mark.parametrize(
    ("output", "flagged", "labels"),
    [
        ("safe", {}, ()),
        ("\n\nsafe\n", {}, ()),
        ("unsafe\nS10", {"identity_attack": 1.0}, ("S10: Hate",)),
        ("unsafe\nS1,S11", {"threat": 1.0, "self_harm": 1.0}, ("S1: Violent Crimes", "S11: Suicide & Self-Harm")),
        ("unsafe\nS6", {"unsafe": 1.0}, ("S6: Specialized Advice",)),
        ("unsafe\nS15", {"unsafe": 1.0}, ("S15: an unknown category",)),  # a newer taxonomy still counts
    ],
)
def test_llama_guard_3(output: str, flagged: dict[str, float], labels: tuple[str, ...]) -> None:
    assert read("llama-guard-3", output) == (flagged, labels)


@pytest.mark.parametrize(
    ("output", "flagged"),
    [
        ("Safety: Safe\nCategories: None\nRefusal: No", {}),
        ("Safety: Unsafe\nCategories: Violent\nRefusal: No", {"threat": 1.0}),
        ("Safety: Unsafe\nCategories: Suicide & Self-Harm, PII\nRefusal: No", {"self_harm": 1.0, "unsafe": 1.0}),
        ("Safety: Controversial\nCategories: Politically Sensitive Topics", {"unsafe": CONTROVERSIAL}),
    ],
)
def test_qwen3guard(output: str, flagged: dict[str, float]) -> None:
    assert read("qwen3guard", output)[0] == flagged


def test_shieldgemma() -> None:
    assert read("shieldgemma", "Yes", "Hate Speech") == ({"identity_attack": 1.0}, ("Hate Speech",))
    assert read("shieldgemma", " no, because", "Harassment") == ({}, ())


@pytest.mark.parametrize(
    ("fmt", "output"),
    [
        ("llama-guard-3", ""),
        ("llama-guard-3", "The reply seems safe to me."),
        ("llama-guard-3", "unsafe"),  # which categories?
        ("llama-guard-3", "unsafe\nhate speech"),
        ("llama-guard-3", "Safe"),  # the model writes lower case; anything else is not its format
        ("qwen3guard", "Unsafe: Violent"),
        ("qwen3guard", "Safety: Unsafe\nCategories: None"),
        ("qwen3guard", "Safety: Unsafe"),
        ("shieldgemma", "Maybe"),
        ("shieldgemma", "Yesterday"),
        ("shieldgemma", ""),
    ],
)
def test_output_that_is_no_verdict_is_an_error(fmt: LlmFormat, output: str) -> None:
    question = questions(fmt, USER, REPLY)[0]
    with pytest.raises(VerdictFormatError):
        parse(fmt, question, output)


def test_every_category_maps_to_one_of_parleys() -> None:
    from moderation.verdict import CATEGORIES

    mapped = [c for _, c in LLAMA_GUARD_3.values()] + list(QWEN3GUARD.values()) + [c for _, c in SHIELDGEMMA.values()]
    assert set(mapped) <= set(CATEGORIES)
