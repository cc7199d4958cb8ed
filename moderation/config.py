"""The `[moderation]` table of models.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from moderation.actions import CommandActionConfig

Category = Literal[
    "toxicity", "severe_toxicity", "obscene", "insult", "threat", "identity_attack", "sexual_explicit", "profanity"
]
Action = Literal["warn", "redact", "block"]

DEFAULT_THRESHOLDS: dict[Category, float] = {
    "toxicity": 0.5,
    "severe_toxicity": 0.5,
    "obscene": 0.5,
    "insult": 0.5,
    "threat": 0.5,
    "identity_attack": 0.5,
    "sexual_explicit": 0.5,
    "profanity": 0.5,
}
DEFAULT_ACTIONS: dict[Category, Action] = {
    "toxicity": "redact",
    "severe_toxicity": "block",
    "obscene": "redact",
    "insult": "redact",
    "threat": "block",
    "identity_attack": "block",
    "sexual_explicit": "redact",
    "profanity": "warn",
}


class DetoxifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    variant: Literal["original", "unbiased", "multilingual", "original-small", "unbiased-small"] = "original"
    device: Literal["cpu", "cuda"] = "cpu"
    checkpoint: Path | None = Field(None, description="a local Detoxify checkpoint (.ckpt); none = torch hub's cache")
    config_dir: Path | None = Field(None, description="local Hugging Face config and tokenizer for the checkpoint")


class ActionsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="offer the built-in actions to the model")
    workspace: Path | None = Field(None, description="the only folder file actions may touch; none = data dir")
    claims: Literal["warn", "redact"] = Field("warn", description="what to do with unbacked action claims")
    allow_irreversible: list[str] = Field(
        default_factory=list, description="irreversible actions that --approve always may run unasked"
    )
    commands: dict[str, CommandActionConfig] = Field(default_factory=dict)


class ModerationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    backend: Literal["auto", "detoxify", "offline"] = Field(
        "auto", description="auto: Detoxify when its weights are on this machine, else the offline classifier"
    )
    thresholds: dict[Category, float] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    actions: dict[Category, Action] = Field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    moderate_input: bool = Field(False, description="also check what the user sends")
    fail: Literal["closed", "open"] = Field("closed", description="when the backend fails: show nothing, or show it")
    timeout_s: float = Field(10.0, gt=0, le=600)
    hold_chars: int = Field(200, ge=20, le=5000, description="longest text held back before it is moderated")
    detoxify: DetoxifyConfig = Field(default_factory=DetoxifyConfig)
