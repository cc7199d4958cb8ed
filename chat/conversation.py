"""The conversation: a system prompt plus turns, and its versioned JSON file format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from actions.action import Request
from actions.config import Risk
from chat.engine import Message, TokenLogprob
from chat.errors import ParleyError
from chat.files import write_atomic
from chat.reasoning import without_reasoning
from chat.sampling import Sampling
from chat.sanitize import clean, quoted, shown_json
from moderation.claims import Claim
from moderation.verdict import Decision, Verdict

SCHEMA = "parley.conversation"
SCHEMA_VERSION = 1

FinishReason = Literal["stop", "length", "cancelled", "error", "blocked"]


def now() -> datetime:
    return datetime.now(UTC)


class ModerationRecord(BaseModel):
    """How moderation treated a reply: the worst decision, the verdict of each flagged part, and
    the moderation model's verdict."""

    decision: Decision
    backend: str
    flagged: list[Verdict] = Field(default_factory=list)
    model: Verdict | None = None  # the moderation model's verdict on the whole reply, when one is set up


class GuardRecord(BaseModel):
    """What the action guard found in a reply."""

    claims: list[Claim] = Field(default_factory=list)  # unbacked action claims
    problems: list[str] = Field(default_factory=list)  # action requests that could not be read
    pending: list[str] = Field(default_factory=list)  # requested actions still waiting for an answer
    imitations: list[str] = Field(default_factory=list)  # passages that imitate Parley's own notices


class Reply(BaseModel):
    content: str
    model: str
    params: Sampling  # the exact parameters this reply was generated with
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    evaluated_prompt_tokens: int
    ttft_s: float | None = None  # until the first text was shown
    tokens_per_s: float | None = None  # the model's generation speed
    duration_s: float = 0.0
    moderation: ModerationRecord | None = None  # None: moderation was off
    guard: GuardRecord = Field(default_factory=GuardRecord)
    created: datetime = Field(default_factory=now)
    # Asked for with --logprobs: the model's log-probability of each token of the reply (only when
    # all of it was shown: the texts of removed tokens are not repeated here), and its perplexity.
    logprobs: list[TokenLogprob] | None = None
    perplexity: float | None = None

    @field_validator("guard", mode="before")
    @classmethod
    def _no_guard_is_an_empty_one(cls, value: object) -> object:
        return GuardRecord() if value is None else value  # files saved before the guard always ran


def describe_request(request: Request, one_line: bool = False) -> str:
    """A request as the person deciding sees it: every argument exactly, with what would be
    invisible shown as an escape (what is shown is what runs)."""
    args = shown_json(request.arguments.model_dump(), indent=None if one_line else 2)
    action = request.action
    return f"{action.name} ({action.risk}): {action.description}{' ' if one_line else chr(10)}arguments: {args}"


DecidedBy = Literal["user", "policy"]  # a person answered, or the approval policy (--approve)


class ActionRecord(BaseModel):
    """An action the model asked for, who decided and how, and what happened."""

    name: str
    arguments: dict[str, Any]
    risk: Risk
    approved: bool
    decided_by: DecidedBy = "user"
    ok: bool  # it ran and succeeded
    result: str
    created: datetime = Field(default_factory=now)

    def summary(self) -> str:
        """For the user: "action save_note ran: note saved to ..." (or failed, or not run: why)."""
        state = "ran" if self.ok else "failed" if self.approved else "not run"
        return f"action {self.name} {state}: {quoted(self.result)}"

    def for_model(self) -> str:
        who = "the user" if self.decided_by == "user" else "the approval policy"
        if not self.approved:
            return f"- {self.name}: {who} declined; it did not run."
        if not self.ok:
            return f"- {self.name}: approved by {who}, but it failed: {self.result}"
        return f"- {self.name}: approved by {who} and done. Result: {self.result}"


class Turn(BaseModel):
    user: str
    created: datetime = Field(default_factory=now)
    reply: Reply | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    in_context: bool = True  # False once the overflow policy dropped it from the window

    def messages(self) -> list[Message]:
        out: list[Message] = [{"role": "user", "content": self.user}]
        if self.reply is not None:  # a reasoning model's thinking stays out, as its template expects
            out.append({"role": "assistant", "content": without_reasoning(self.reply.content)})
        if self.actions:
            # Results come back as Parley's own message, so the conversation can go on.
            results = "\n".join(a.for_model() for a in self.actions)
            out.append({"role": "user", "content": f"[Parley: results of the actions you asked for]\n{results}"})
        return out


class Branch(BaseModel):
    """Another way the conversation went from turn `turn` (1-based) on, kept when an earlier
    message was edited; with the branches that forked further along it."""

    turn: int
    turns: list[Turn]
    branches: list[Branch] = Field(default_factory=list)


class Conversation(BaseModel):
    system: str = ""
    prompt_name: str | None = None
    actions_prompt: str = ""  # how to ask for actions; appended to the system prompt
    turns: list[Turn] = Field(default_factory=list)
    summary: str = ""  # the model's summary of the turns /compact took out of the window
    branches: list[Branch] = Field(default_factory=list)  # the other continuations (/edit, /branch)

    def fork(self, number: int) -> None:
        """Set the turns from `number` on aside as a branch (with the branches further along),
        so the conversation goes on differently from there."""
        later = [b for b in self.branches if b.turn > number]
        self.branches = [b for b in self.branches if b.turn <= number]
        self.branches.append(Branch(turn=number, turns=self.turns[number - 1 :], branches=later))
        del self.turns[number - 1 :]

    def versions(self, number: int) -> list[list[Turn]]:
        """Every continuation from turn `number`, the one shown among them, oldest first."""
        found = [b.turns for b in self.branches if b.turn == number and b.turns]
        if len(self.turns) >= number:
            found.append(self.turns[number - 1 :])
        return sorted(found, key=lambda turns: turns[0].created)

    def shown(self, number: int) -> int:
        """Which of `versions(number)` (1-based) the conversation shows; 0 when it shows none."""
        current = self.turns[number - 1] if len(self.turns) >= number else None
        return next((i for i, turns in enumerate(self.versions(number), start=1) if turns[0] is current), 0)

    def switch(self, number: int, version: int) -> None:
        """Show version `version` (1-based, in the order of `versions`) of the turns from `number` on."""
        if version == self.shown(number):
            return
        chosen = self.versions(number)[version - 1]
        branch = next(b for b in self.branches if b.turn == number and b.turns and b.turns[0] is chosen[0])
        self.branches.remove(branch)
        if len(self.turns) >= number:
            self.fork(number)
        self.turns.extend(branch.turns)
        self.branches.extend(branch.branches)

    def system_messages(self) -> list[Message]:
        summary = (
            f"Summary of the earlier conversation (no longer shown in full):\n{self.summary}" if self.summary else ""
        )
        text = "\n\n".join(part for part in (self.system, self.actions_prompt, summary) if part)
        return [{"role": "system", "content": text}] if text else []

    def last_prompt(self) -> list[Message]:
        """What the model is asked for the last reply: the window without that turn's reply (and
        its actions' results), ending with its user message."""
        *earlier, last = [t for t in self.turns if t.in_context]
        messages = self.system_messages()
        for turn in earlier:
            messages.extend(turn.messages())
        return [*messages, {"role": "user", "content": last.user}]

    def context_messages(self, pending_user: str | None = None) -> list[Message]:
        """What the model sees: system prompt, in-context turns, then the new user message."""
        messages = self.system_messages()
        for turn in self.turns:
            if turn.in_context:
                messages.extend(turn.messages())
        if pending_user is not None:
            messages.append({"role": "user", "content": pending_user})
        return messages


class SavedConversation(BaseModel):
    schema_: Literal["parley.conversation"] = Field("parley.conversation", alias="schema")
    version: Literal[1] = 1
    saved_at: datetime = Field(default_factory=now)
    model: str
    params: Sampling
    conversation: Conversation


def is_saved(head: str) -> bool:
    """Whether a file starting with `head` is a conversation file of Parley's."""
    return f'"schema": "{SCHEMA}"' in head


def save(path: Path, conversation: Conversation, model: str, params: Sampling) -> None:
    """Write atomically: a crash or a full disk mid-save never leaves a half-written file in place.
    OSError when it cannot be written."""
    doc = SavedConversation(
        schema=SCHEMA, version=SCHEMA_VERSION, model=model, params=params, conversation=conversation
    )
    write_atomic(path, doc.model_dump_json(by_alias=True, indent=2) + "\n")


def load(path: Path) -> SavedConversation:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParleyError(f"no such file: {clean(str(path))}") from None
    except OSError as err:
        raise ParleyError(f"cannot read conversation {clean(str(path))}: {err.strerror or err}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ParleyError(f"{clean(str(path))} is not a Parley conversation file (not JSON text)") from None
    except (ValueError, RecursionError):  # a number of thousands of digits, nesting too deep
        raise ParleyError(f"cannot read conversation {clean(str(path))}: not a file Parley wrote") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ParleyError(f'{path} is not a Parley conversation file (no "schema": "{SCHEMA}")')
    if data.get("version") != SCHEMA_VERSION:
        raise ParleyError(f"{path}: unsupported version {data.get('version')!r} (this Parley reads {SCHEMA_VERSION})")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # lone surrogates (\\ud800) are no text
    except UnicodeEncodeError:
        raise ParleyError(f"{clean(str(path))}: holds text that is not valid Unicode") from None
    try:
        return SavedConversation.model_validate(data)
    except RecursionError:
        raise ParleyError(f"{clean(str(path))}: invalid conversation file (nested too deep)") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ParleyError(f"{path}: invalid conversation file at {where}: {first['msg']}") from None
