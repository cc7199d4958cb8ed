"""One turn, the same for every front end.

The pipeline takes what the user entered (a message or a slash command) and runs it: input
moderation, fitting the context window, streaming the reply through moderation, the action
guard, the actions the reply asks for and their answers. It reports each step as an event
(`chat.events`) to the front end and writes every recorded event to the transcript. Front ends
(the headless runner, the TUI) only render events and answer questions; they hold no turn logic.

Only a person answers a question (through the front end's `Asker`), or the approval policy
the user chose: nothing in a reply can.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from actions.action import Request
from actions.errors import ActionError
from chat import commands, context
from chat.conversation import ActionRecord, DecidedBy, GuardRecord, ModerationRecord, Reply, Turn, describe_request
from chat.engine import Message
from chat.errors import ContextOverflowError, ParleyError
from chat.events import (
    ActionDecided,
    ActionDone,
    ActionRequested,
    CommandRan,
    Compacted,
    Compared,
    ComparedReply,
    CopyAsked,
    ErrorRaised,
    Event,
    Notice,
    ProbsShown,
    ReplyContinued,
    ReplyWithdrawn,
    SessionStarted,
    TextShown,
    TurnDone,
    UserSent,
    action_notice,
    backed_claim_notice,
    claim_notice,
    dropped_notice,
    finish_notices,
    imitation_notice,
    moderation_notices,
    unreadable_request_notice,
    waiting_notice,
    withdrawn_claim_notice,
)
from chat.generation import generate
from chat.sampling import Sampling
from chat.sanitize import mark
from chat.session import Session
from chat.transcript import Transcript, TranscriptError
from moderation.claims import Claim, ClaimWatch, find_imitations
from moderation.verdict import SEVERITY

ApproveMode = Literal["never", "ask", "always"]


@dataclass(frozen=True)
class Question:
    """A yes/no question for the person at the front end; the default answer is No."""

    title: str
    details: str
    prompt: str


Asker = Callable[[Question], bool]


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who answers action requests: a person (`ask`), nobody (`never`), or a standing yes
    (`always`, which irreversible actions get only when named in `allow_irreversible`)."""

    mode: ApproveMode = "ask"
    allow_irreversible: frozenset[str] = frozenset()

    def decide(self, request: Request, can_ask: bool) -> bool | None:
        """The policy's own answer, or None when a person must answer."""
        if self.mode == "never":
            return False
        irreversible = request.action.risk == "irreversible" and request.action.name not in self.allow_irreversible
        if self.mode == "always" and not irreversible:
            return True
        if self.mode == "always" and not can_ask:
            return False  # irreversible and not named: only a person may run it
        return None


# How /compact asks the model for its summary (the model writes it; moderation checks it).
SUMMARY_PROMPT = (
    "Summarise the conversation below in a few short sentences: the facts, names, numbers and decisions "
    "that later turns may need, and what the user asked for. Write only the summary."
)


def merged(first: ModerationRecord | None, then: ModerationRecord | None) -> ModerationRecord | None:
    """The moderation of a reply and of its continuation, as one record: the worse decision."""
    if first is None or then is None:
        return first or then
    decision = max(first.decision, then.decision, key=lambda d: SEVERITY[d])
    return ModerationRecord(decision=decision, backend=then.backend, flagged=[*first.flagged, *then.flagged])


class Pipeline:
    def __init__(
        self,
        session: Session,
        on_event: Callable[[Event], None] = lambda _: None,
        *,
        policy: ApprovalPolicy | None = None,
        ask: Asker | None = None,
        transcript: Transcript | None = None,
    ) -> None:
        self.session = session
        self.on_event = on_event
        self.policy = policy or ApprovalPolicy()
        self.ask = ask  # None: no person can answer now (a script answers with /approve or /deny)
        self.transcript = transcript
        self._transcript_error: TranscriptError | None = None
        self._claims = ClaimWatch()  # the claims in the reply being shown
        self._told: set[str] = set()  # the last reply's claims told as unbacked when its turn ended

    def emit(self, event: Event) -> None:
        """Record `event` in the transcript, then hand it to the front end. A transcript that
        cannot be written stops nothing: the error is reported once the step is done."""
        if event.recorded and self.transcript is not None:
            try:
                self.transcript.write(event.to_json())
            except TranscriptError as err:
                self._transcript_error = err
        self.on_event(event)

    def start(self) -> None:
        """Load the moderation backend now, not on the first reply; report the session."""
        session = self.session
        if session.moderator.enabled:
            session.moderator.load()
        with self._reported():
            self.emit(SessionStarted(
                session.model_name, session.engine.info, session.conversation.system,
                session.conversation.prompt_name, session.params,
                session.moderator.backend_name if session.moderator.enabled else "off",
            ))  # fmt: skip
            for note in session.engine.info.notes:
                self.emit(Notice("model", note, "information"))
            if session.claim_check_missing:
                self.emit(Notice("guard", f"claims: the grammar decides alone: {session.claim_check_missing}"))

    @contextmanager
    def _reported(self) -> Iterator[None]:
        """A user-facing error becomes an error event, then goes on up for the exit code; so
        does a transcript that failed during the step."""
        try:
            yield
        except ParleyError as err:
            self.emit(ErrorRaised(str(err)))
            raise
        if self._transcript_error is not None:
            failure, self._transcript_error = self._transcript_error, None
            self.emit(ErrorRaised(str(failure)))
            raise failure

    # --- what the user enters ---------------------------------------------------------------

    def command(self, line: str, cancel: threading.Event | None = None) -> bool:
        """Run a slash command (and the reply it asks for); False when it asks to quit."""
        with self._reported():
            return self._command(line, cancel or threading.Event())

    def send(self, text: str, cancel: threading.Event | None = None, force_action: bool = False) -> Turn:
        """Run a turn for a user message. Setting `cancel` stops the reply; what was shown stays."""
        with self._reported():
            return self._send(text, cancel or threading.Event(), force_action)

    def _command(self, line: str, cancel: threading.Event) -> bool:
        try:
            outcome = commands.execute(self.session, line)
        except ParleyError as err:
            self.emit(CommandRan(line, str(err), ok=False))
            raise
        self.emit(CommandRan(line, outcome.text, ok=True))
        if outcome.copy is not None:
            self.emit(CopyAsked(outcome.copy))
        if outcome.probs is not None:
            self.emit(ProbsShown(outcome.probs))
        if outcome.answer is not None:
            self.decide(outcome.answer, "user")
        if outcome.generate is not None:
            self._send(outcome.generate, cancel, outcome.force_action)
        if outcome.continue_reply:
            self._continue(cancel)
        if outcome.compact is not None:
            self._compact(outcome.compact, cancel)
        if outcome.compare:
            self._compare(outcome.compare, cancel)
        self._save_history()  # /undo, /retry, /approve... changed it
        return not outcome.quit

    def _send(self, text: str, cancel: threading.Event, force_action: bool) -> Turn:
        session = self.session
        if force_action and not session.registry.actions:
            raise ParleyError("no actions are enabled ([actions] enabled = false)")
        text = session.message(text)  # with the files attached by /file
        self._check_input(text)
        params = session.params
        if session.config.overflow == "compact" and not context.fits(
            session.engine, session.conversation, text, params.max_tokens
        ):
            self._compact(2, cancel)  # what still does not fit is dropped below
        prompt_tokens, dropped = context.fit(
            session.engine, session.conversation, text, params.max_tokens, session.config.overflow
        )
        messages = session.conversation.context_messages(text)
        turn = Turn(user=text)
        session.conversation.turns.append(turn)
        session.pending = []
        session.attachments = []  # sent
        self._tell_dropped(dropped)
        self.emit(UserSent(text))
        self._claims = session.claim_watch(text)
        self._told = set()
        schema = session.registry.request_schema() if force_action else None
        turn.reply, failure = generate(session, messages, params, prompt_tokens, cancel, schema, self._show)
        self._second_look(turn)
        self._finish(turn, dropped, force_action)
        if failure is not None:
            raise ParleyError(f"generation failed: {failure}") from failure
        record = turn.reply.moderation
        verdicts = [*record.flagged, *([record.model] if record.model else [])] if record else []
        broken = next((v.error for v in verdicts if v.error), None)
        if broken is not None:  # the turn is recorded, but a filter that failed is a failure
            raise ParleyError(f"moderation failed: {broken}")
        return turn

    def _compare(self, settings: tuple[tuple[str, Sampling], ...], cancel: threading.Event) -> None:
        """The last message asked again under each setting, one after the other; every reply is
        moderated and checked for claims as any is, and none joins the conversation."""
        session = self.session
        messages = session.conversation.last_prompt()
        prompt_tokens = session.engine.count_tokens(messages)
        n_ctx = session.engine.info.n_ctx
        replies: list[ComparedReply] = []
        with session.engine.aside():  # the conversation's cache stays as its replies left it
            for text, params in settings:
                if prompt_tokens + params.max_tokens > n_ctx:
                    raise ContextOverflowError(
                        f"{text}: {prompt_tokens} prompt tokens + max_tokens {params.max_tokens} exceed n_ctx {n_ctx}"
                    )
                reply, failure = generate(session, messages, params, prompt_tokens, cancel, None, lambda _: None)
                if failure is not None:
                    raise ParleyError(f"generation failed: {failure}") from failure
                claims = session.unbacked_claims(reply.content, messages[-1]["content"])
                replies.append(ComparedReply(text, reply, claims))
                if cancel.is_set():
                    break
        self.emit(Compared(messages[-1]["content"], replies))

    def _show(self, text: str, last: bool = False) -> None:
        shown, claims = self._claims.release(text, last)
        if shown:
            self.emit(TextShown(shown))
        for claim in claims:
            self.emit(claim_notice(claim))

    def _second_look(self, turn: Turn) -> None:
        """The moderation model's verdict on the whole reply, once the fast pass has shown it. It
        judges the reply as a whole, so a verdict to redact or block withdraws all of it."""
        judge, reply = self.session.moderation_model, turn.reply
        assert reply is not None
        record = reply.moderation
        if judge is None or record is None or reply.finish_reason in ("blocked", "error") or not reply.content.strip():
            return
        record.model = verdict = judge.check(turn.user, reply.content)
        if SEVERITY[verdict.decision] > SEVERITY[record.decision]:
            record.decision = verdict.decision
        if verdict.decision in ("redact", "block"):
            # The model sees this in later turns, so it knows its reply was taken back.
            reply.content = mark(f"reply withdrawn by the moderation model: {verdict.label}")
            reply.finish_reason = "blocked"
            self.emit(ReplyWithdrawn(reply.content))

    def _continue(self, cancel: threading.Event) -> None:
        """The last reply goes on where it was cut: the model sees it as its own unfinished text."""
        session = self.session
        turn = session.conversation.turns[-1]
        reply = turn.reply
        assert reply is not None and turn.in_context
        params = session.params
        messages, prompt_tokens, dropped = context.fit_continuation(
            session.engine, session.conversation, params.max_tokens, session.config.overflow
        )
        self._tell_dropped(dropped)
        self.emit(ReplyContinued(len(session.conversation.turns)))
        self._claims = session.claim_watch(session.conversation.turns[-1].user)
        more, failure = generate(
            session, messages, params, prompt_tokens, cancel, None, self._show, continue_reply=True
        )
        turn.reply = reply.model_copy(update={
            "content": reply.content + more.content, "finish_reason": more.finish_reason,
            "completion_tokens": reply.completion_tokens + more.completion_tokens,
            "duration_s": reply.duration_s + more.duration_s, "moderation": merged(reply.moderation, more.moderation),
        })  # fmt: skip
        self._finish(turn, dropped, False)
        if failure is not None:
            raise ParleyError(f"generation failed: {failure}") from failure

    def _compact(self, keep: int, cancel: threading.Event) -> None:
        """Replace the in-context turns but the last `keep` with the model's summary of them (and
        of any earlier summary): they stay in the conversation, out of the window."""
        session = self.session
        conversation = session.conversation
        old = [n for n, t in enumerate(conversation.turns, start=1) if t.in_context][: -keep or None]
        lines = [f"Earlier summary: {conversation.summary}"] if conversation.summary else []
        for number in old:
            turn = conversation.turns[number - 1]
            lines.append(f"User: {turn.user}\nAssistant: {turn.reply.content if turn.reply else ''}")
        messages: list[Message] = [
            {"role": "system", "content": SUMMARY_PROMPT}, {"role": "user", "content": "\n\n".join(lines)},
        ]  # fmt: skip
        params = session.params.model_copy(update={"max_tokens": min(session.params.max_tokens, 256)})
        prompt_tokens = session.engine.count_tokens(messages)
        if prompt_tokens + params.max_tokens > session.engine.info.n_ctx:
            raise ContextOverflowError(
                f"the turns to summarise take {prompt_tokens} tokens, too many for one summary in the "
                f"{session.engine.info.n_ctx}-token window: /compact with a larger KEEP first drops fewer"
            )  # fmt: skip
        summary, failure = generate(session, messages, params, prompt_tokens, cancel, None, lambda _: None)
        flagged = summary.moderation is not None and summary.moderation.decision in ("redact", "block")
        if failure is not None or flagged or summary.finish_reason in ("error", "cancelled") or not summary.content:
            why = failure or ("moderation flagged it" if flagged else summary.finish_reason or "it was empty")
            raise ParleyError(f"no summary written ({why}): nothing was compacted")
        conversation.summary = summary.content.strip()
        for number in old:
            conversation.turns[number - 1].in_context = False
        self.emit(Compacted(old, conversation.summary))

    def _check_input(self, text: str) -> None:
        """With input moderation on, a flagged message is sent only if a person confirms it."""
        session = self.session
        if not (session.moderator.enabled and session.config.moderation.moderate_input):
            return
        verdict = session.moderator.check(text)
        if verdict.decision == "allow":
            return
        question = Question(
            f"Moderation flagged your message ({verdict.label})", f"{verdict.scores_text()}\n\n{text}",
            "Send it to the model anyway?",
        )  # fmt: skip
        if self.ask is None or not self.ask(question):
            raise ParleyError(f"message not sent: moderation flagged it ({verdict.label or verdict.error})")

    def _tell_dropped(self, dropped: list[int]) -> None:
        """Which turns left the context to make room, told before the reply they made room for."""
        if dropped:
            self.emit(dropped_notice(dropped))

    def _finish(self, turn: Turn, dropped: list[int], forced: bool) -> None:
        """What follows the reply: notices, its action requests and their answers, the guard."""
        reply = turn.reply
        assert reply is not None
        self._show("", last=True)  # the last sentence, if unfinished, checked for claims as the others
        for notice in [*moderation_notices(reply.moderation), *finish_notices(reply)]:
            self.emit(notice)
        requests, problems = self._requests(reply, forced)
        reply.guard = GuardRecord(problems=problems, imitations=find_imitations(reply.content))
        self.session.pending = requests
        for request in requests:
            self.emit(ActionRequested(request))
        self._answer_pending()
        self._check_claims()
        held = self._claims.rest()  # claims = "redact": from a claim an action could back on
        if held:
            self.emit(TextShown(self._without_claims(held, reply.guard.claims)))
        told_before = self._told  # this turn's claims told before /continue went on with it
        for claim in reply.guard.claims:
            if claim.sentence not in self._claims.told | told_before:  # not told while it streamed, nor before
                self.emit(claim_notice(claim))
        self._told = {claim.sentence for claim in reply.guard.claims}
        for sentence in sorted(told_before - self._told):  # a sentence cut short, finished: no claim after all
            self.emit(withdrawn_claim_notice(sentence))
        for problem in problems:
            self.emit(unreadable_request_notice(problem))
        for passage in reply.guard.imitations:
            self.emit(imitation_notice(passage))
        self.emit(TurnDone(turn, dropped, self.session.engine.info.n_ctx))
        self._save_history()

    def _save_history(self) -> None:
        """The conversation as it now is into the history; a failure turns the history off, once said."""
        session = self.session
        if session.history is not None:
            error = session.history.save(session.conversation, session.model_name, session.params)
            if error:
                self.emit(Notice("history", f"history off for this session: {error}"))

    def _requests(self, reply: Reply, forced: bool) -> tuple[list[Request], list[str]]:
        if reply.finish_reason in ("blocked", "error"):
            return [], []
        registry = self.session.registry
        if not forced:
            return registry.parse(reply.content)
        try:  # the grammar made the whole reply one request, as bare JSON
            return [registry.read(reply.content)], []
        except ActionError as err:  # e.g. cut at max_tokens before the JSON closed
            return [], [str(err)]

    # --- actions and the guard ---------------------------------------------------------------

    def _answer_pending(self) -> None:
        """Answer waiting requests in order; a script's /approve or /deny answers the rest."""
        while self.session.pending:
            request = self.session.pending[0]
            approved = self.policy.decide(request, can_ask=self.ask is not None)
            if approved is not None:
                self.decide(approved, "policy")
            elif self.ask is not None:
                action = request.action
                question = Question(
                    f"The assistant asks to run {action.name} ({action.risk})", describe_request(request), "Run it?"
                )
                self.decide(self.ask(question), "user")
            else:
                self.emit(waiting_notice(request))
                return

    def decide(self, approved: bool, decided_by: DecidedBy) -> ActionRecord:
        """Answer the oldest waiting request; run it if approved. A failure is its result."""
        session = self.session
        if not session.pending or not session.conversation.turns:
            raise ParleyError("no action is waiting for an answer")
        request = session.pending.pop(0)
        action = request.action
        self.emit(ActionDecided(action.name, approved, decided_by))
        ok = False
        if not approved:
            result = "declined by the user" if decided_by == "user" else f"declined (--approve {self.policy.mode})"
            if decided_by == "policy" and self.policy.mode == "always":  # an irreversible one, not named
                result += f"; an irreversible action runs unasked only if named: --allow-irreversible {action.name}"
        else:
            try:
                result, ok = session.registry.execute(request, session.action_context()), True
            except Exception as err:  # noqa: BLE001 - whatever an action raises is its failed result
                result = str(err) or type(err).__name__
        record = ActionRecord(
            name=action.name, arguments=request.arguments.model_dump(), risk=action.risk, approved=approved,
            decided_by=decided_by, ok=ok, result=result,
        )  # fmt: skip
        session.conversation.turns[-1].actions.append(record)
        if approved:
            self.emit(ActionDone(record))
        self.emit(action_notice(record))
        self._check_claims()
        # An /approve after the turn ended: a claim told as unbacked may be backed now.
        reply = session.conversation.turns[-1].reply
        backed = self._told - {claim.sentence for claim in reply.guard.claims} if reply else set()
        for sentence in sorted(backed):
            self.emit(backed_claim_notice(sentence, action.name))
        self._told -= backed
        return record

    def _without_claims(self, text: str, claims: list[Claim]) -> str:
        """`text` with `claims` replaced, under claims = "redact", once every request is answered
        (a claim that an action then backed stays)."""
        redaction = self.session.claim_redaction
        if redaction and not self.session.pending:
            for claim in claims:
                text = text.replace(claim.sentence, redaction)
        return text

    def _check_claims(self) -> None:
        """Find the last reply's action claims that no action that ran and succeeded backs."""
        session = self.session
        turn = session.conversation.turns[-1] if session.conversation.turns else None
        if turn is None or turn.reply is None:
            return
        reply = turn.reply
        executed = {a.name for a in turn.actions if a.ok}
        removed = [c for c in reply.guard.claims if c.sentence not in reply.content]  # by an earlier look
        found = session.unbacked_claims(reply.content, turn.user, executed)
        reply.content = self._without_claims(reply.content, found)
        pending = [r.action.name for r in session.pending]
        reply.guard = reply.guard.model_copy(update={"claims": removed + found, "pending": pending})
