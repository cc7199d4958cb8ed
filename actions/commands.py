"""Command actions: the user's own programs, declared as [actions.commands.NAME] in models.toml.
They run argv directly, never through a shell, with each argument validated."""

from __future__ import annotations

import subprocess
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from actions.action import Action, ActionContext, ActionError
from actions.config import CommandActionConfig


def _safe_value(value: str) -> str:
    if value.startswith("-"):
        raise ValueError("may not start with '-' (it would read as an option)")
    if "\x00" in value or "\n" in value:
        raise ValueError("may not contain NUL or newlines")
    return value


def command_action(name: str, config: CommandActionConfig) -> Action:
    fields: dict[str, Any] = {arg: (str, Field(min_length=1, max_length=1000, description=d))
                              for arg, d in config.args.items()}  # fmt: skip
    validators = {"safe": field_validator(*config.args)(lambda cls, v: _safe_value(v))} if config.args else {}
    model = create_model(f"{name}_args", __config__=ConfigDict(extra="forbid"), __validators__=validators, **fields)

    def run(args: BaseModel, ctx: ActionContext) -> str:
        values = args.model_dump()
        argv = [part.format(**values) for part in config.argv]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=config.timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ActionError(f"{name}: {err}") from None
        output = (done.stdout + done.stderr).strip()[:4000]
        if done.returncode != 0:
            raise ActionError(f"{name} exited with {done.returncode}: {output}")
        return output or f"{name} ran"

    return Action(name, config.description, model, config.risk, run, backs=frozenset(v.lower() for v in config.backs))
