"""The actions on offer in a session: what the model is told, reading its requests, running
them, and which action would back a claim."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.action import Action, ActionContext, Request
from actions.builtin import BUILTIN
from actions.commands import command_action
from actions.config import ActionsConfig
from actions.errors import ActionError


def _without_lengths(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_lengths(v) for k, v in schema.items() if k not in ("maxLength", "minLength")}
    if isinstance(schema, list):
        return [_without_lengths(v) for v in schema]
    return schema


# Only an explicit request counts: a JSON code block in an answer is an example, not a request.
_REQUEST = re.compile(r"<action>\s*(.*?)\s*</action>", re.DOTALL | re.IGNORECASE)
MAX_REQUEST_CHARS = 1_100_000  # room for write_file's longest content, and no more


class _RequestShape(BaseModel):
    """What a request must look like before its arguments are checked against the action."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100)
    arguments: dict[str, Any] = Field(default_factory=dict)


def _first_error(err: ValidationError, what: str) -> str:
    first = err.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or what}: {first['msg']}"


class Registry:
    def __init__(self, actions: list[Action]) -> None:
        self.actions = {a.name: a for a in actions}

    @classmethod
    def from_config(cls, settings: ActionsConfig) -> Registry:
        """The built-in actions and the user's enabled command actions; none when actions are off."""
        if not settings.enabled:
            return cls([])
        commands = [command_action(name, c) for name, c in settings.commands.items() if c.enabled]
        return cls([*BUILTIN, *commands])

    def prompt(self) -> str:
        """What the model is told: the actions, their arguments, and how to ask ("" when none)."""
        if not self.actions:
            return ""
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

    @staticmethod
    def prose(text: str) -> str:
        """A reply without its requests, each replaced by a line break: the sentences a reader
        sees, none of them spanning a request."""
        return _REQUEST.sub("\n", text)

    def parse(self, text: str) -> tuple[list[Request], list[str]]:
        """Requests found in a reply, and a message for each one that is malformed."""
        requests, problems = [], []
        for match in _REQUEST.finditer(text):
            try:
                requests.append(self.read(match.group(1)))
            except ActionError as err:
                problems.append(str(err))
        return requests, problems

    def read(self, body: str) -> Request:
        """One request from its JSON text; ActionError says what is wrong with it."""
        if len(body) > MAX_REQUEST_CHARS:
            raise ActionError(f"action request too long ({len(body)} characters)")
        try:
            data = json.loads(body)
        except json.JSONDecodeError as err:
            raise ActionError(f"unreadable action request ({err.msg})") from None
        except (ValueError, RecursionError):  # a number of thousands of digits, nesting too deep
            raise ActionError("unreadable action request (a number too long, or nested too deep)") from None
        try:
            shape = _RequestShape.model_validate(data)
        except ValidationError as err:
            raise ActionError(f"malformed action request: {_first_error(err, 'request')}") from None
        action = self.actions.get(shape.name)
        if action is None:
            raise ActionError(f"unknown action {shape.name[:100]!r}; known: {', '.join(self.actions)}")
        try:
            return Request(action, action.args.model_validate(shape.arguments))
        except ValidationError as err:
            raise ActionError(f"{action.name}: {_first_error(err, 'arguments')}") from None

    def execute(self, request: Request, ctx: ActionContext) -> str:
        return request.action.run(request.arguments, ctx)

    def backers(self, verb: str, sentence: str) -> list[str]:
        """The actions that would back a claim made with `verb` (a base form) in `sentence`:
        those whose `about` the sentence matches first ("I've saved notes.txt" is a file's),
        then any whose verbs include it; none when only the world could."""
        fitting = [a for a in self.actions.values() if a.can_back(verb, sentence)]
        fitting.sort(key=lambda a: a.about is None)
        return [a.name for a in fitting]
