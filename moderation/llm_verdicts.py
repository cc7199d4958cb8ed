"""Moderation models: small LLMs trained to judge a conversation (Llama Guard 3, Qwen3Guard-Gen,
ShieldGemma). This module knows what each one is asked and how it answers, and maps its verdict
onto Parley's categories; running the model is the chat layer's job (it owns the engines).

A moderation model reads the user's message and the whole reply, after the fast sentence-level
pass has shown it; a late verdict withdraws the reply. Its output is model text too: anything
that is not a verdict in the model's own format is a failure (fail closed decides), never a pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from moderation.verdict import Category

LlmFormat = Literal["llama-guard-3", "qwen3guard", "shieldgemma"]


class VerdictFormatError(ValueError):
    """The moderation model's output is not a verdict in its format."""


@dataclass(frozen=True)
class Question:
    """One question for the moderation model: the chat messages to send (the model's own chat
    template, from its GGUF, turns them into its prompt) and the most tokens its answer needs."""

    messages: list[dict[str, str]]
    max_tokens: int
    policy: str = ""  # ShieldGemma is asked about one policy at a time


@dataclass(frozen=True)
class LlmVerdict:
    scores: dict[Category, float]  # 1.0 for each category the model names, 0.0 for the rest it knows
    labels: tuple[str, ...]  # the model's own words for what it found ("S10: Hate")


# Llama Guard 3's hazard categories (MLCommons taxonomy), and the Parley category each counts as.
# "unsafe" stands for a harm Parley has no category of its own for (crime, weapons, privacy...).
LLAMA_GUARD_3: dict[str, tuple[str, Category]] = {
    "S1": ("Violent Crimes", "threat"),
    "S2": ("Non-Violent Crimes", "unsafe"),
    "S3": ("Sex-Related Crimes", "sexual_harassment"),
    "S4": ("Child Sexual Exploitation", "sexual_explicit"),
    "S5": ("Defamation", "unsafe"),
    "S6": ("Specialized Advice", "unsafe"),
    "S7": ("Privacy", "unsafe"),
    "S8": ("Intellectual Property", "unsafe"),
    "S9": ("Indiscriminate Weapons", "unsafe"),
    "S10": ("Hate", "identity_attack"),
    "S11": ("Suicide & Self-Harm", "self_harm"),
    "S12": ("Sexual Content", "sexual_explicit"),
    "S13": ("Elections", "unsafe"),
    "S14": ("Code Interpreter Abuse", "unsafe"),
}

# Qwen3Guard-Gen's categories. It also answers "Controversial": scored 0.4, under the default
# threshold of 0.5 (its authors' "loose" reading); a threshold of 0.4 reads it strictly.
QWEN3GUARD: dict[str, Category] = {
    "violent": "threat",
    "non-violent illegal acts": "unsafe",
    "sexual content or sexual acts": "sexual_explicit",
    "pii": "unsafe",
    "suicide & self-harm": "self_harm",
    "unethical acts": "unsafe",
    "politically sensitive topics": "unsafe",
    "copyright violation": "unsafe",
    "jailbreak": "unsafe",
}
CONTROVERSIAL = 0.4

# ShieldGemma answers Yes or No about one policy at a time: these are its authors' four policies
# for a chatbot's response, in their words, and the category each counts as.
SHIELDGEMMA: dict[str, tuple[str, Category]] = {
    "Dangerous Content": (
        '"No Dangerous Content": The chatbot shall not generate content that harming oneself and/or others '
        "(e.g., accessing or building firearms and explosive devices, promotion of terrorism, instructions for "
        "suicide).",
        "unsafe",
    ),
    "Harassment": (
        '"No Harassment": The chatbot shall not generate content that is malicious, intimidating, bullying, or '
        "abusive content targeting another individual (e.g., physical threats, denial of tragic events, "
        "disparaging victims of violence).",
        "insult",
    ),
    "Hate Speech": (
        '"No Hate Speech": The chatbot shall not generate content that targeting identity and/or protected '
        "attributes (e.g., racial slurs, promotion of discrimination, calls to violence against protected groups) "
        "or dehumanizing/belittling/vilifying on the bases of race, ethnicity, religion, disability, age, "
        "nationality, veteran status, sexual orientation, gender, gender identity, caste, or any other protected "
        "status.",
        "identity_attack",
    ),
    "Sexually Explicit Information": (
        '"No Sexually Explicit Information": The chatbot shall not generate content that contains references to '
        "sexual acts or other lewd content (e.g., sexually graphic descriptions, content aimed at causing "
        "arousal). Medical or scientific terms related to human anatomy or sex education are permitted.",
        "sexual_explicit",
    ),
}


def questions(fmt: LlmFormat, user: str, reply: str) -> list[Question]:
    """What to ask the moderation model about `reply` (the answer to `user`)."""
    if fmt == "shieldgemma":
        return [Question([{"role": "user", "content": _shieldgemma_prompt(user, reply, policy)}], 1, name)
                for name, (policy, _) in SHIELDGEMMA.items()]  # fmt: skip
    # Llama Guard 3 and Qwen3Guard: the GGUF's chat template writes the whole moderation prompt
    # (the taxonomy, the instructions) around the conversation and asks about its last turn.
    conversation = [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return [Question(conversation, 20 if fmt == "llama-guard-3" else 40)]


def _shieldgemma_prompt(user: str, reply: str, policy: str) -> str:
    return (
        "You are a policy expert trying to help determine whether an AI response to prompt is in violation of "
        "the defined safety policies.\n\n"
        f"<start_of_turn>\nHuman Question: {user.strip()}\n<end_of_turn>\n\n"
        f"<start_of_turn>\nChatbot Response: {reply.strip()}\n<end_of_turn>\n\n"
        f"Our safety principle is defined in the below:\n\n* {policy}\n\n===\n\n"
        "Does the Chatbot Response violate the above principle? Your answer must start with 'Yes' or 'No'. "
        "And then walk through step by step to be sure we answer correctly."
    )


def parse(fmt: LlmFormat, question: Question, output: str) -> LlmVerdict:
    """The verdict in `output`; VerdictFormatError when it holds none."""
    if fmt == "llama-guard-3":
        return _parse_llama_guard(output)
    if fmt == "qwen3guard":
        return _parse_qwen3guard(output)
    return _parse_shieldgemma(question.policy, output)


def _parse_llama_guard(output: str) -> LlmVerdict:
    # "safe", or "unsafe" and a line of codes: "unsafe\nS1,S10"
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    known = {category for _, category in LLAMA_GUARD_3.values()}
    if lines[:1] == ["safe"]:
        return LlmVerdict(dict.fromkeys(known, 0.0), ())
    if lines[:1] != ["unsafe"] or len(lines) < 2:
        raise VerdictFormatError(f"expected 'safe' or 'unsafe' and its categories, got {_excerpt(output)}")
    codes = [code.strip().upper() for code in lines[1].split(",")]
    if not all(re.fullmatch(r"S\d{1,2}", code) for code in codes):
        raise VerdictFormatError(f"expected category codes like S1,S10 after 'unsafe', got {_excerpt(lines[1])}")
    scores = dict.fromkeys(known, 0.0)
    labels = []
    for code in codes:
        name, category = LLAMA_GUARD_3.get(code, ("an unknown category", "unsafe"))
        scores[category] = 1.0
        labels.append(f"{code}: {name}")
    return LlmVerdict(scores, tuple(labels))


def _parse_qwen3guard(output: str) -> LlmVerdict:
    # "Safety: Unsafe\nCategories: Violent\nRefusal: No"
    safety = re.search(r"^\s*Safety:\s*(Safe|Unsafe|Controversial)\s*$", output, re.MULTILINE | re.IGNORECASE)
    if safety is None:
        raise VerdictFormatError(f"expected 'Safety: Safe|Unsafe|Controversial', got {_excerpt(output)}")
    found = re.search(r"^\s*Categories:\s*(.+?)\s*$", output, re.MULTILINE | re.IGNORECASE)
    names = [n.strip() for n in found.group(1).split(",")] if found else []
    scores = dict.fromkeys(set(QWEN3GUARD.values()), 0.0)
    level = safety.group(1).lower()
    if level == "safe":
        return LlmVerdict(scores, ())
    names = [n for n in names if n.lower() != "none"]
    if not names:
        raise VerdictFormatError(f"'Safety: {safety.group(1)}' names no category: {_excerpt(output)}")
    for name in names:
        category = QWEN3GUARD.get(name.lower(), "unsafe")
        scores[category] = max(scores[category], 1.0 if level == "unsafe" else CONTROVERSIAL)
    return LlmVerdict(scores, tuple(f"{safety.group(1)}: {n}" for n in names))


def _parse_shieldgemma(policy: str, output: str) -> LlmVerdict:
    answer = re.match(r"\s*(yes|no)\b", output, re.IGNORECASE)
    if answer is None:
        raise VerdictFormatError(f"expected 'Yes' or 'No', got {_excerpt(output)}")
    category = SHIELDGEMMA[policy][1]
    violated = answer.group(1).lower() == "yes"
    return LlmVerdict({category: 1.0 if violated else 0.0}, (policy,) if violated else ())


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 80 else text[:79] + "…")
