"""The `[actions]` table of models.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Risk = Literal["read-only", "writes", "irreversible"]


class CommandActionConfig(BaseModel):
    """[actions.commands.NAME] in models.toml: runs argv (never through a shell)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    argv: list[str] = Field(min_length=1, description='program and arguments; "{name}" is filled from an argument')
    args: dict[str, str] = Field(default_factory=dict, description="argument name -> description")
    risk: Risk = "irreversible"
    enabled: bool = False
    timeout_s: float = Field(30.0, gt=0, le=3600)
    backs: list[str] = Field(
        default_factory=list, description='verbs of the claims it makes true once it ran, e.g. ["send", "notify"]'
    )


class ActionsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="offer the built-in actions to the model")
    workspace: Path | None = Field(None, description="the only folder file actions may touch; none = data dir")
    claims: Literal["warn", "redact"] = Field("warn", description="what to do with unbacked action claims")
    allow_irreversible: list[str] = Field(
        default_factory=list, description="irreversible actions that --approve always may run unasked"
    )
    commands: dict[str, CommandActionConfig] = Field(default_factory=dict)
