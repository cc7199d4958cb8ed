"""What a turn reports, as typed events: the turn pipeline emits them, front ends render them,
and every one but streamed text goes to the transcript (and to `--json`) as one JSON object.

The wording of every notice the user sees is here, once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from actions.action import Request
from chat.conversation import ActionRecord, DecidedBy, ModerationRecord, Reply, Turn, describe_request
from chat.engine import ModelInfo, NextToken
from chat.sampling import Sampling
from chat.sanitize import quoted
from moderation.claims import Claim

Severity = Literal["information", "warning", "error"]
# What a notice is about; a front end may place it by this (the TUI puts moderation above the reply).
NoticeKind = Literal["moderation", "finish", "context", "action", "guard", "history", "model"]


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Event:
    type: ClassVar[str]
    recorded: ClassVar[bool] = True  # written to the transcript and --json
    time: str = field(default_factory=now, init=False, compare=False)

    def fields(self) -> dict[str, Any]:
        """The event's own data, as JSON values (its dataclass fields, unless it says otherwise)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "time": self.time, **self.fields()}


@dataclass(frozen=True)
class SessionStarted(Event):
    type = "session"
    model: str
    info: ModelInfo
    system: str
    prompt: str | None
    params: Sampling
    moderation: str  # the backend, or "off"

    def fields(self) -> dict[str, Any]:
        return {
            "model": self.model, "path": self.info.path, "n_ctx": self.info.n_ctx,
            "n_gpu_layers": self.info.n_gpu_layers, "gpu_layers": self.info.gpu_layers,
            "chat_format": self.info.chat_format, "counts": self.info.counts, "system": self.system,
            "prompt": self.prompt,
            "params": self.params.model_dump(), "moderation": self.moderation,
        }  # fmt: skip


@dataclass(frozen=True)
class UserSent(Event):
    """A user message became a turn (it passed input moderation and fits the context)."""

    type = "user"
    content: str


@dataclass(frozen=True)
class TextShown(Event):
    """Reply text that passed moderation and may be shown now."""

    type = "text"
    recorded = False
    text: str


@dataclass(frozen=True)
class Notice(Event):
    type = "notice"
    kind: NoticeKind
    text: str
    severity: Severity = "warning"


@dataclass(frozen=True)
class Compacted(Event):
    """Turns `turns` left the window, replaced there by the model's `summary` of them (moderated)."""

    type = "compact"
    turns: list[int]
    summary: str

    def text(self) -> str:
        numbers = f"{self.turns[0]}-{self.turns[-1]}" if len(self.turns) > 1 else str(self.turns[0])
        return f"turns {numbers} are now out of context, summarised: {self.summary}"


@dataclass(frozen=True)
class ReplyContinued(Event):
    """/continue: the reply of turn `turn` goes on; the text shown next belongs to it."""

    type = "continue"
    turn: int


@dataclass(frozen=True)
class ReplyWithdrawn(Event):
    """The moderation model judged the reply, already shown, unfit: `content` replaces it."""

    type = "withdrawn"
    content: str


@dataclass(frozen=True)
class ActionRequested(Event):
    type = "action_request"
    request: Request

    def fields(self) -> dict[str, Any]:
        action = self.request.action
        return {"name": action.name, "arguments": self.request.arguments.model_dump(), "risk": action.risk}


@dataclass(frozen=True)
class ActionDecided(Event):
    type = "action_decision"
    name: str
    approved: bool
    decided_by: DecidedBy


@dataclass(frozen=True)
class ActionDone(Event):
    """An approved action ran: its result, or why it failed."""

    type = "action_result"
    record: ActionRecord

    def fields(self) -> dict[str, Any]:
        return self.record.model_dump(mode="json", exclude={"created"})


@dataclass(frozen=True)
class TurnDone(Event):
    """The turn is over: its reply, usage, verdicts, guard findings and actions."""

    type = "turn"
    turn: Turn
    dropped: list[int]  # turns that this generation pushed out of the context window
    n_ctx: int

    @property
    def reply(self) -> Reply:
        assert self.turn.reply is not None  # a turn is done only once it has a reply
        return self.turn.reply

    @property
    def context_used(self) -> int:
        return self.reply.prompt_tokens + self.reply.completion_tokens

    def fields(self) -> dict[str, Any]:
        reply = self.reply
        return {
            "model": reply.model,
            "user": self.turn.user,
            "reply": reply.content,
            "finish_reason": reply.finish_reason,
            "params": reply.params.model_dump(),
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "evaluated_prompt_tokens": reply.evaluated_prompt_tokens,
            },
            "context": {"used": self.context_used, "n_ctx": self.n_ctx, "dropped_turns": self.dropped},
            "timing": {"ttft_s": reply.ttft_s, "total_s": reply.duration_s, "tokens_per_s": reply.tokens_per_s},
            "moderation": reply.moderation.model_dump(mode="json") if reply.moderation else None,
            "guard": reply.guard.model_dump(mode="json"),
            "actions": [a.model_dump(mode="json") for a in self.turn.actions],
            **({"perplexity": reply.perplexity,  # asked for with --logprobs; the list is withheld as null
                "logprobs": None if reply.logprobs is None else [dataclasses.asdict(t) for t in reply.logprobs]}
               if reply.perplexity is not None else {}),
        }  # fmt: skip


@dataclass(frozen=True)
class CommandRan(Event):
    type = "command"
    command: str
    output: str
    ok: bool


@dataclass(frozen=True)
class CopyAsked(Event):
    """/copy picked this text for the clipboard: the front end puts it there (the TUI through
    Textual, which works over SSH; a terminal through OSC 52). Not recorded: it is in the turn."""

    type = "copy"
    recorded = False
    text: str


@dataclass(frozen=True)
class ProbsShown(Event):
    """/probs: the next-token distribution after each sampler stage."""

    type = "probs"
    found: NextToken

    def fields(self) -> dict[str, Any]:
        return dataclasses.asdict(self.found)


@dataclass(frozen=True)
class ComparedReply:
    settings: str  # as the user wrote them, e.g. "temp=1.2,top_k=0"
    reply: Reply  # moderated as any reply is
    claims: list[Claim]  # unbacked action claims in it (no action runs in a comparison)


@dataclass(frozen=True)
class Compared(Event):
    """/compare: the last message asked again under each setting (not added to the conversation)."""

    type = "compare"
    user: str
    replies: list[ComparedReply]

    def fields(self) -> dict[str, Any]:
        return {"user": self.user, "replies": [{
            "settings": r.settings, "reply": r.reply.content, "finish_reason": r.reply.finish_reason,
            "params": r.reply.params.model_dump(), "completion_tokens": r.reply.completion_tokens,
            "moderation": r.reply.moderation.model_dump(mode="json") if r.reply.moderation else None,
            "claims": [c.model_dump() for c in r.claims],
        } for r in self.replies]}  # fmt: skip

    def notices(self, index: int) -> list[Notice]:
        """What is said under reply `index`: why it ended early, moderation, claims."""
        compared = self.replies[index]
        return [*moderation_notices(compared.reply.moderation), *finish_notices(compared.reply),
                *(claim_notice(c) for c in compared.claims)]  # fmt: skip


@dataclass(frozen=True)
class ErrorRaised(Event):
    type = "error"
    error: str


# --- notices: what the user is told, worded once -------------------------------------------

_MODERATION_OUTCOME = {"allow": "FAILED, shown unchecked", "warn": "warning", "redact": "removed",
                       "block": "reply withheld"}  # fmt: skip


def moderation_notices(record: ModerationRecord | None) -> list[Notice]:
    """One notice per flagged part of a reply, and one for the moderation model's verdict."""
    if record is None:
        return []
    severity: Severity = "error" if record.decision == "block" else "warning"
    notices = [
        Notice("moderation", f"moderation: {_MODERATION_OUTCOME[v.decision]}: {v.scores_text()}", severity)
        for v in record.flagged
    ]
    verdict = record.model
    if verdict is not None and (verdict.flagged or verdict.error):
        withdrawn = verdict.decision in ("redact", "block")
        outcome = "reply withdrawn" if withdrawn else "reply shown unchecked" if verdict.error else "warning"
        failed = " FAILED," if verdict.error else ":"
        notices.append(Notice("moderation", f"moderation model{failed} {outcome}: {verdict.scores_text()}",
                              "error" if withdrawn else "warning"))  # fmt: skip
    return notices


def finish_notices(reply: Reply) -> list[Notice]:
    """Why a reply ended early, if it did; its perplexity, if asked for (--logprobs)."""
    notices = {
        "cancelled": [Notice("finish", "stopped")],
        "length": [Notice("finish", f"cut at max_tokens = {reply.params.max_tokens}")],
        "error": [Notice("finish", "the reply failed part-way (what came is kept)", "error")] if reply.content else [],
    }.get(reply.finish_reason, [])
    if reply.perplexity is not None:
        notices.append(Notice("finish", f"perplexity {reply.perplexity:.2f} over {reply.completion_tokens} tokens",
                              "information"))  # fmt: skip
    return notices


def reply_notices(reply: Reply) -> list[Notice]:
    """What was said about a reply when it came, for drawing it again (another version shown, a
    chat reopened): moderation, why it ended, and what the guard found in it."""
    guard = reply.guard
    return [
        *moderation_notices(reply.moderation), *finish_notices(reply), *(claim_notice(c) for c in guard.claims),
        *(unreadable_request_notice(p) for p in guard.problems), *(imitation_notice(p) for p in guard.imitations),
    ]  # fmt: skip


def dropped_notice(dropped: list[int]) -> Notice:
    numbers = ", ".join(map(str, dropped))
    return Notice("context", f"context full: turn(s) {numbers} moved out of context", "information")


QUOTE_MARKS = '"“”'  # a sentence quoted in full in a notice loses its own, which would double up


def claim_notice(claim: Claim) -> Notice:
    return Notice("guard", f'{claim.reason} ("{_sentence(claim.sentence)}")')


def backed_claim_notice(sentence: str, action: str) -> Notice:
    """A claim told as unbacked, which an action approved later then backed."""
    return Notice("guard", f'{action} has now run, so this claim is backed: "{_sentence(sentence)}"', "information")


def withdrawn_claim_notice(sentence: str) -> Notice:
    """A sentence cut short was told as an unbacked claim; finished by /continue, it is none."""
    return Notice("guard", f'the reply went on and this is no unbacked claim after all: "{_sentence(sentence)}"',
                  "information")  # fmt: skip


def _sentence(sentence: str) -> str:
    """A claim's sentence as a notice quotes it: shortened, and without its own quote marks."""
    return quoted(sentence).strip(QUOTE_MARKS)


def imitation_notice(passage: str) -> Notice:
    return Notice("guard", f"the reply imitates a notice of Parley's (\"{passage}\"): Parley's own are marked ⟦ ⟧")


def unreadable_request_notice(problem: str) -> Notice:
    return Notice("guard", f"action request ignored: {quoted(problem)}")


def waiting_notice(request: Request) -> Notice:
    return Notice("action", f"action waiting for /approve or /deny: {describe_request(request, one_line=True)}")


def action_notice(record: ActionRecord) -> Notice:
    return Notice("action", record.summary(), "information" if record.ok else "warning")
