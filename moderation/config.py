"""The `[moderation]` table of models.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from moderation.verdict import Category, Policy

# A score at or above its category's threshold flags the text: a number from 0 to 1 (NaN would
# switch the category off, a negative one flag everything).
Threshold = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]

DEFAULT_THRESHOLDS: dict[Category, float] = {
    "toxicity": 0.5,
    "severe_toxicity": 0.5,
    "obscene": 0.5,
    "insult": 0.5,
    "threat": 0.5,
    "identity_attack": 0.5,
    "sexual_explicit": 0.5,
    "profanity": 0.5,
    "self_harm": 0.5,
    "sexual_harassment": 0.5,
    "unsafe": 0.5,
}
DEFAULT_POLICY: dict[Category, Policy] = {
    "toxicity": "redact",
    "severe_toxicity": "block",
    "obscene": "redact",
    "insult": "redact",
    "threat": "block",
    "identity_attack": "block",
    "sexual_explicit": "redact",
    "profanity": "warn",
    "self_harm": "block",
    "sexual_harassment": "redact",
    "unsafe": "warn",  # a moderation model's other harms: some (Llama Guard's "specialized advice") are ordinary
}


class DetoxifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    variant: Literal["original", "unbiased", "multilingual", "original-small", "unbiased-small"] = "original"
    device: Literal["cpu", "cuda"] = "cpu"
    checkpoint: Path | None = Field(None, description="a local Detoxify checkpoint (.ckpt); none = torch hub's cache")
    config_dir: Path | None = Field(None, description="local Hugging Face config and tokenizer for the checkpoint")


class ModerationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    backend: Literal["auto", "detoxify", "contextual", "offline"] = Field(
        "auto",
        description="auto: Detoxify when its weights are on this machine, else the contextual backend when its "
        "encoder is prepared, else the offline word model",
    )
    thresholds: dict[Category, Threshold] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    policy: dict[Category, Policy] = Field(
        default_factory=lambda: dict(DEFAULT_POLICY), description="what a flagged category leads to"
    )
    moderate_input: bool = Field(False, description="also check what the user sends")
    fail: Literal["closed", "open"] = Field("closed", description="when the backend fails: show nothing, or show it")
    timeout_s: float = Field(10.0, gt=0, le=600)
    hold_chars: int = Field(200, ge=20, le=5000, description="longest text held back before it is moderated")
    detoxify: DetoxifyConfig = Field(default_factory=DetoxifyConfig)

    def threshold(self, category: Category) -> float:
        return self.thresholds.get(category, DEFAULT_THRESHOLDS[category])

    def policy_for(self, category: Category) -> Policy:
        return self.policy.get(category, DEFAULT_POLICY[category])
