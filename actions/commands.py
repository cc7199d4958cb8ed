"""Command actions: the user's own programs, declared as [actions.commands.NAME] in models.toml.
They run argv directly, never through a shell, with each argument validated."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from actions.action import Action, ActionContext
from actions.config import CommandActionConfig
from actions.errors import ActionError
from actions.workspace import parts_of


def _relative_path(value: str) -> str:
    try:
        parts_of(value)
    except ActionError as err:
        raise ValueError(str(err)) from None
    return value


def _safe_value(value: str) -> str:
    if value.startswith("-"):
        raise ValueError("may not start with '-' (it would read as an option)")
    if "\x00" in value or "\n" in value:
        raise ValueError("may not contain NUL or newlines")
    return value


def command_action(name: str, config: CommandActionConfig) -> Action:
    fields: dict[str, Any] = {arg: (str, Field(min_length=1, max_length=1000, description=spec.description))
                              for arg, spec in config.args.items()}  # fmt: skip
    paths = [arg for arg, spec in config.args.items() if spec.type == "path"]
    validators: dict[str, Any] = {}
    if config.args:
        validators["safe"] = field_validator(*config.args)(lambda cls, v: _safe_value(v))
    if paths:
        validators["inside"] = field_validator(*paths)(lambda cls, v: _relative_path(v))
    model = create_model(f"{name}_args", __config__=ConfigDict(extra="forbid"), __validators__=validators, **fields)

    def run(args: BaseModel, ctx: ActionContext) -> str:
        values = args.model_dump()
        for arg in paths:  # the program gets the path inside the workspace, checked now
            values[arg] = str(ctx.workspace.resolve(values[arg]))
        argv = [part.format(**values) for part in config.argv]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=config.timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ActionError(f"{name}: {err}") from None
        output = (done.stdout + done.stderr).strip()[:4000]
        if done.returncode != 0:
            raise ActionError(f"{name} exited with {done.returncode}: {output}")
        return output or f"{name} ran"

    # "I've sent the notification" is its claim; "I've sent the email" is not, when about = ["notification"]
    words = "|".join(map(re.escape, config.about))
    about = re.compile(rf"\b(?:{words})", re.IGNORECASE) if config.about else None
    return Action(name, config.description, model, config.risk, run, backs=frozenset(config.backs), about=about)
