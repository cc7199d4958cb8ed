"""The `[actions]` table of models.toml."""

from __future__ import annotations

import re
from pathlib import Path
from string import Formatter
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Risk = Literal["read-only", "writes", "irreversible"]
_ARG_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CommandArg(BaseModel):
    """An argument of a command action: `text`, or `path`, a file inside the workspace (a
    relative path, given to the program as the absolute path it names there)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    type: Literal["text", "path"] = "text"


class CommandActionConfig(BaseModel):
    """[actions.commands.NAME] in models.toml: runs argv (never through a shell)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    argv: list[str] = Field(min_length=1, description='program and arguments; "{name}" is filled from an argument')
    args: dict[str, CommandArg] = Field(
        default_factory=dict, description='argument name -> description, or {description = "...", type = "path"}'
    )
    risk: Risk = "irreversible"
    enabled: bool = False
    timeout_s: float = Field(30.0, gt=0, le=3600)
    backs: list[Annotated[str, Field(pattern=r"^[a-z][a-z-]*$")]] = Field(
        default_factory=list, description='verbs of the claims it makes true once it ran, e.g. ["send", "notify"]'
    )
    about: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        description='words a claim must mention for it to back the claim, e.g. ["notification"] (none: any claim)',
    )

    @field_validator("args", mode="before")
    @classmethod
    def _description_alone(cls, args: object) -> object:
        """`args = { to = "who gets it" }` is short for `{ description = "who gets it" }`."""
        if isinstance(args, dict):
            return {k: {"description": v} if isinstance(v, str) else v for k, v in args.items()}
        return args

    @model_validator(mode="after")
    def _placeholders_are_arguments(self) -> CommandActionConfig:
        """Every "{name}" in argv is a declared argument, plainly: checked when the config loads,
        not after the user approved a run."""
        for name in self.args:
            if not _ARG_NAME.match(name):
                raise ValueError(
                    f"argument name {name!r}: use lower-case letters, digits and _, starting with a letter"
                )
        for part in self.argv:
            try:
                fields = [
                    (field, spec, conversion)
                    for _, field, spec, conversion in Formatter().parse(part)
                    if field is not None
                ]
            except ValueError as err:
                raise ValueError(f"argv {part!r}: {err} (write {{{{ and }}}} for literal braces)") from None
            for field, spec, conversion in fields:
                if field not in self.args:
                    known = ", ".join(self.args) or "none declared"
                    raise ValueError(f"argv {part!r} uses {{{field}}}, which is not in args ({known})")
                if spec or conversion:
                    raise ValueError(f"argv {part!r}: {{{field}}} takes no format or conversion")
        return self


class ActionsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="offer the built-in actions to the model")
    workspace: Path | None = Field(None, description="the only folder file actions may touch; none = data dir")
    claims: Literal["warn", "redact"] = Field("warn", description="what to do with unbacked action claims")
    claim_check: Literal["learned", "grammar"] = Field(
        "learned",
        description="learned: a head over the moderation encoder confirms what the grammar takes for a claim "
        "(when the encoder is prepared); grammar: the grammar alone",
    )
    allow_irreversible: list[str] = Field(
        default_factory=list, description="irreversible actions that --approve always may run unasked"
    )
    commands: dict[str, CommandActionConfig] = Field(default_factory=dict)
