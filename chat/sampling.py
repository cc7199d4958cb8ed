"""Sampling parameters: one pydantic model gives validation, ranges and help text."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chat.errors import CommandError, did_you_mean


class Sampling(BaseModel):
    """The parameters a reply is generated with; every reply records a copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(0.7, ge=0.0, le=2.0, description="randomness; 0 = greedy")
    top_p: float = Field(0.95, ge=0.0, le=1.0, description="nucleus sampling mass")
    top_k: int = Field(40, ge=0, le=1000, description="sample from the k likeliest tokens; 0 = all")
    min_p: float = Field(0.05, ge=0.0, le=1.0, description="drop tokens below min_p x the top probability")
    repeat_penalty: float = Field(1.1, ge=0.0, le=2.0, description="penalty for repeated tokens; 1 = off")
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="penalty for tokens already present")
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="penalty by token frequency")
    max_tokens: int = Field(512, ge=1, le=131072, description="longest reply, in tokens")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="random seed; none = random each time")
    stop: tuple[str, ...] = Field((), description="extra stop strings (comma-separated)")

    def with_value(self, name: str, raw: str) -> Sampling:
        """Return a copy with `name` parsed from user text; raise CommandError on a bad value."""
        if name not in Sampling.model_fields:
            hint = did_you_mean(name, Sampling.model_fields) or f" (one of: {', '.join(Sampling.model_fields)})"
            raise CommandError(f"unknown parameter '{name}'{hint}")
        value: Any = _parse(name, raw)
        try:
            return Sampling.model_validate({**self.model_dump(), name: value})
        except ValidationError as err:
            raise CommandError(f"{name}: {_range_text(name)} (got {raw!r}: {_first_msg(err)})") from None

    def short(self) -> str:
        """For the status bar."""
        return f"temp {self.temperature:g} · top_p {self.top_p:g} · top_k {self.top_k} · max {self.max_tokens}"

    def summary(self) -> str:
        seed = "random" if self.seed is None else str(self.seed)
        return (
            f"temp {self.temperature:g}, top_p {self.top_p:g}, top_k {self.top_k}, "
            f"max_tokens {self.max_tokens}, seed {seed}"
        )


def _parse(name: str, raw: str) -> Any:
    raw = raw.strip()
    if name == "stop":
        return tuple(s for s in (part.strip() for part in raw.split(",")) if s)
    if name == "seed" and raw.lower() in ("none", "random", "-1", ""):
        return None
    return raw  # pydantic converts numeric strings and rejects the rest


def _range_text(name: str) -> str:
    field = Sampling.model_fields[name]
    low = high = None
    for meta in field.metadata:
        low = getattr(meta, "ge", low)
        high = getattr(meta, "le", high)
    if low is not None and high is not None:  # a whole number in full: a seed's 4294967295, not 4.29497e+09
        return f"expected a number from {low:g} to {high if isinstance(high, int) else format(high, 'g')}"
    return f"expected {field.description}"


def _first_msg(err: ValidationError) -> str:
    return err.errors()[0]["msg"].lower()


def describe() -> list[tuple[str, str, str]]:
    """(name, range, description) for every parameter; used by /help and /params."""
    rows = []
    for name, field in Sampling.model_fields.items():
        rows.append((name, _range_text(name).removeprefix("expected "), field.description or ""))
    return rows


# What each parameter does, for /explain (which adds what it does now, on the next token). In the
# order llama.cpp applies them: penalties, top_k, top_p, min_p, temperature, then a random draw.
EXPLANATIONS = {
    "temperature": "divides every score (logit) before the random draw: below 1 the likeliest tokens gain "
    "probability and replies become more predictable, above 1 the distribution flattens and unlikely tokens "
    "come up more often; 0 always takes the likeliest token (greedy, and reproducible). It is applied last, "
    "after top_k, top_p and min_p chose which tokens may be drawn at all.",
    "top_p": "nucleus sampling: after top_k, keeps the fewest likeliest tokens whose probabilities add up to "
    "top_p and drops the rest (1 keeps all). A low value leaves only the few tokens the model is sure of.",
    "top_k": "keeps only the k likeliest tokens (0 keeps all); the first cut, before top_p and min_p.",
    "min_p": "drops every token whose probability is below min_p times the likeliest one's (0 keeps all): the "
    "cut follows the model's confidence, strict when one token dominates, loose when many are close.",
    "repeat_penalty": "makes tokens already in the reply less likely: a positive score is divided by the "
    "penalty, a negative one multiplied (1 is off). llama-cpp-python applies it to the reply's last 64 tokens.",
    "presence_penalty": "subtracts this from the score of every token already in the reply's last 64 tokens, "
    "once (0 is off; negative values favour repeats).",
    "frequency_penalty": "subtracts this times the number of times a token occurs in the reply's last 64 "
    "tokens (0 is off).",
    "max_tokens": "the longest reply, in tokens; a reply cut there can go on with /continue. It is also kept "
    "free in the context window, so a larger value leaves less room for the conversation.",
    "seed": "starts the random draw: with the same seed, parameters and conversation, a reply comes out the "
    "same every time; none takes a new seed for every reply.",
    "stop": "strings that end the reply when the model writes them (they are not shown).",
}
