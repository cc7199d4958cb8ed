"""Actions the assistant may ask for, and that run only once the user approves.

Each action has a name, a description, arguments as a pydantic model (validated, and shown to
the model as a JSON schema), a risk level and an executor. The model asks with one line:
<action>{"name": "save_note", "arguments": {"text": "..."}}</action>. Only the front-end's
confirmation (a person answering) can approve: nothing in the model's text can.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

Risk = Literal["read-only", "writes", "irreversible"]


class ActionError(Exception):
    """A request that cannot run: unknown action, bad arguments, a path outside the workspace."""


@dataclass(frozen=True)
class ActionContext:
    workspace: Path
    notes_file: Path
    export: Callable[[Path], None]  # writes the conversation (Markdown or JSON by extension)


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    args: type[BaseModel]
    risk: Risk
    run: Callable[[Any, ActionContext], str]

    def schema(self) -> dict[str, Any]:
        return self.args.model_json_schema()


@dataclass(frozen=True)
class Request:
    """A validated request, waiting for the user's answer."""

    action: Action
    arguments: BaseModel

    def describe(self) -> str:
        args = json.dumps(self.arguments.model_dump(), ensure_ascii=False, indent=2)
        return f"{self.action.name} ({self.action.risk}): {self.action.description}\narguments: {args}"


# --- built-in actions ----------------------------------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteArgs(_Args):
    text: str = Field(min_length=1, max_length=10_000, description="the note")


class WriteArgs(_Args):
    path: str = Field(min_length=1, max_length=255, description="a relative path inside the workspace")
    content: str = Field(max_length=1_000_000)


class ReadArgs(_Args):
    path: str = Field(min_length=1, max_length=255, description="a relative path inside the workspace")


class ExportArgs(_Args):
    path: str = Field(min_length=1, max_length=255, description="a .md or .json file name inside the workspace")


def confine(workspace: Path, relative: str) -> Path:
    """The path inside `workspace`, or ActionError for absolute paths, '..', and symlinks out."""
    candidate = Path(relative)
    if candidate.is_absolute() or relative.startswith("~"):
        raise ActionError(f"path must be relative to the workspace: {relative}")
    if ".." in candidate.parts:
        raise ActionError(f"path may not contain '..': {relative}")
    root = workspace.resolve()
    target = (root / candidate).resolve()  # follows symlinks, so a link out of the workspace shows here
    if not target.is_relative_to(root):
        raise ActionError(f"path leaves the workspace: {relative}")
    return target


def _save_note(args: NoteArgs, ctx: ActionContext) -> str:
    ctx.notes_file.parent.mkdir(parents=True, exist_ok=True)
    with ctx.notes_file.open("a", encoding="utf-8") as f:
        f.write(f"- {datetime.now():%Y-%m-%d %H:%M} {args.text}\n")
    return f"note saved to {ctx.notes_file}"


def _write_file(args: WriteArgs, ctx: ActionContext) -> str:
    target = confine(ctx.workspace, args.path)
    if target.exists():
        raise ActionError(f"{args.path} already exists; write_file never overwrites")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(args.content, encoding="utf-8")
    return f"wrote {len(args.content)} characters to {target}"


def _read_file(args: ReadArgs, ctx: ActionContext) -> str:
    target = confine(ctx.workspace, args.path)
    if not target.is_file():
        raise ActionError(f"no such file in the workspace: {args.path}")
    text = target.read_text(encoding="utf-8", errors="replace")
    return text[:20_000] + ("\n[truncated]" if len(text) > 20_000 else "")


def _export(args: ExportArgs, ctx: ActionContext) -> str:
    target = confine(ctx.workspace, args.path)
    ctx.export(target)
    return f"conversation exported to {target}"


BUILTIN = [
    Action("save_note", "save a note to the user's notes file", NoteArgs, "writes", _save_note),
    Action("write_file", "create a new text file in the workspace folder", WriteArgs, "writes", _write_file),
    Action("read_file", "read a text file from the workspace folder", ReadArgs, "read-only", _read_file),
    Action(
        "export_conversation", "export this conversation to a file in the workspace", ExportArgs, "writes", _export
    ),  # fmt: skip
]


# --- user-defined command actions ----------------------------------------------------------


class CommandActionConfig(BaseModel):
    """[actions.commands.NAME] in models.toml: runs argv (never through a shell)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    argv: list[str] = Field(min_length=1, description='program and arguments; "{name}" is filled from an argument')
    args: dict[str, str] = Field(default_factory=dict, description="argument name -> description")
    risk: Risk = "irreversible"
    enabled: bool = False
    timeout_s: float = Field(30.0, gt=0, le=3600)


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

    return Action(name, config.description, model, config.risk, run)


# --- the registry --------------------------------------------------------------------------


def _without_lengths(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_lengths(v) for k, v in schema.items() if k not in ("maxLength", "minLength")}
    if isinstance(schema, list):
        return [_without_lengths(v) for v in schema]
    return schema


_REQUEST = re.compile(r"<action>\s*(.*?)\s*</action>|```(?:action|json)\s*\n(.*?)```", re.DOTALL | re.IGNORECASE)


class Registry:
    def __init__(self, actions: list[Action]) -> None:
        self.actions = {a.name: a for a in actions}

    def prompt(self) -> str:
        """What the model is told: the actions, their arguments, and how to ask."""
        lines = [
            "You can ask Parley to run an action by writing one line like "
            '<action>{"name": "save_note", "arguments": {"text": "..."}}</action>. '
            "The user must approve it first: never say it is done before Parley reports the result.",
            "Actions:",
        ]
        for action in self.actions.values():
            args = ", ".join(action.args.model_fields)
            lines.append(f"- {action.name}({args}): {action.description}")
        return "\n".join(lines)

    def request_schema(self) -> dict[str, Any]:
        """One JSON schema for any request: used as a grammar to force a well-formed one.

        Length limits are left out: llama.cpp spells them out as nested rules (10,000 of them for
        a note) and gives up; the arguments are validated against the full model afterwards."""
        options = []
        for action in self.actions.values():
            schema = _without_lengths(action.schema())
            options.append({
                "type": "object",
                "properties": {"name": {"const": action.name}, "arguments": {k: v for k, v in schema.items()
                                                                             if k != "title"}},
                "required": ["name", "arguments"],
            })  # fmt: skip
        return {"oneOf": options}

    def parse(self, text: str) -> tuple[list[Request], list[str]]:
        """Requests found in a reply, and a message for each one that is malformed."""
        requests, problems = [], []
        for match in _REQUEST.finditer(text):
            body = match.group(1) or match.group(2) or ""
            try:
                requests.append(self.request_from(json.loads(body)))
            except json.JSONDecodeError as err:
                problems.append(f"unreadable action request ({err.msg})")
            except ActionError as err:
                problems.append(str(err))
        return requests, problems

    def request_from(self, data: object) -> Request:
        if not isinstance(data, dict):
            raise ActionError("an action request must be a JSON object")
        name = data.get("name") or data.get("action")
        arguments = data.get("arguments", data.get("args", {}))
        if name not in self.actions:
            raise ActionError(f"unknown action {name!r}; known: {', '.join(self.actions)}")
        action = self.actions[str(name)]
        try:
            return Request(action, action.args.model_validate(arguments))
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "arguments"
            raise ActionError(f"{action.name}: {where}: {first['msg']}") from None

    def execute(self, request: Request, ctx: ActionContext) -> str:
        return request.action.run(request.arguments, ctx)
