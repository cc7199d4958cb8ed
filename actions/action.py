"""What an action is, a request for one, and where it may act."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from actions.config import Risk
from actions.workspace import Workspace


@dataclass(frozen=True)
class ActionContext:
    workspace: Workspace
    notes_file: Path
    export: Callable[[str], str]  # the conversation as text, for a file ending (".md" or ".json")


@dataclass(frozen=True)
class Action:
    """An action. `backs` and `about` say which claims it makes true once it ran: a claim whose
    verb (base form) is in `backs`, in a sentence matching `about` when that is set."""

    name: str
    description: str
    args: type[BaseModel]
    risk: Risk
    run: Callable[[Any, ActionContext], str]
    backs: frozenset[str] = frozenset()
    about: re.Pattern[str] | None = None

    def schema(self) -> dict[str, Any]:
        return self.args.model_json_schema()

    def can_back(self, verb: str, sentence: str) -> bool:
        return verb in self.backs and (self.about is None or self.about.search(sentence) is not None)


@dataclass(frozen=True)
class Request:
    """A validated request, waiting for the user's answer."""

    action: Action
    arguments: BaseModel
