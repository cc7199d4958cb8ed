"""Runs user messages and slash commands against a Session and reports the results.

Shared by the headless modes (`ask`, `run`, piped stdin) and the interactive line chat:
replies stream to `out`; notices, command output and errors go to `err`. With `json_mode`,
`out` gets one JSON event a line instead. Every event also goes to the transcript.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from chat import commands, events
from chat.errors import ParleyError
from chat.sanitize import clean
from chat.script import Step
from chat.session import Session, TurnResult
from chat.transcript import Transcript
from moderation.actions import Request
from moderation.verdict import Verdict


def _yes(question: str) -> bool:
    """Ask at the terminal; anything but yes is no."""
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def guard_notes(record: dict[str, Any] | None) -> list[str]:
    """One line per unbacked action claim and per unreadable action request."""
    if not record:
        return []
    notes = [f'[{claim["reason"]} ("{claim["sentence"]}")]' for claim in record.get("claims", [])]
    return notes + [f"[action request ignored: {problem}]" for problem in record.get("problems", [])]


def moderation_notes(record: dict[str, Any] | None) -> list[str]:
    """One line per kind of moderation outcome of a reply, for the user."""
    if not record:
        return []
    notes = []
    for verdict in record["flagged"]:
        scores = ", ".join(f"{c} {verdict['scores'][c]:.2f}" for c in verdict["flagged"])
        what = {"allow": "FAILED, shown unchecked", "warn": "warning", "redact": "removed", "block": "reply withheld"}[
            verdict["decision"]
        ]
        notes.append(f"[moderation: {what}: {scores or verdict['error']}]")
    return notes


class Runner:
    def __init__(
        self,
        session: Session,
        *,
        json_mode: bool = False,
        transcript: Transcript | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
        interactive: bool = False,
        approve: str | None = None,
        allow_irreversible: frozenset[str] = frozenset(),
    ) -> None:
        self.session = session
        # Who answers action requests: a person at a terminal ("ask"), nobody ("never"), or a
        # standing yes ("always", which irreversible actions need by name to get).
        self.approve = approve or ("ask" if interactive else "never")
        self.allow_irreversible = allow_irreversible | frozenset(session.config.actions.allow_irreversible)
        self.interactive = interactive  # Ctrl+C stops the reply only, not the whole run
        self.json_mode = json_mode
        self.transcript = transcript
        self.out = out or sys.stdout
        self.console = Console(file=err or sys.stderr, highlight=False, soft_wrap=True)

    def emit(self, event: dict[str, Any]) -> None:
        if self.transcript is not None:
            self.transcript.write(event)
        if self.json_mode:
            self.out.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            self.out.flush()

    def notice(self, text: str, style: str = "dim") -> None:
        # Text(...) is never parsed for markup: the text may quote the model or the user.
        self.console.print(Text(clean(text), style=style))

    def start(self) -> None:
        self.emit(events.session_start(self.session))

    # --- one step -------------------------------------------------------------------------

    def run(self, steps: Iterable[Step], keep_going: bool = False) -> int:
        """Run steps in order; return the exit code (the first error's, or 0)."""
        code = 0
        for step in steps:
            try:
                if not self.step(step):
                    break
            except ParleyError as err:
                self.error(str(err))
                code = code or err.exit_code
                if not keep_going:
                    break
        return code

    def step(self, step: Step) -> bool:
        """Run one step; False when the user asked to quit."""
        if step.kind == "user":
            self.send(step.text)
            return True
        return self.command(step.text)

    def command(self, line: str) -> bool:
        try:
            outcome = commands.execute(self.session, line)
        except ParleyError as err:
            self.emit(events.command(line, str(err), ok=False))
            raise
        self.emit(events.command(line, outcome.text, ok=True))
        if outcome.text and not self.json_mode:
            self.notice(outcome.text, style="")
        if outcome.generate is not None:
            self.send(outcome.generate, outcome.force_action)
        return not outcome.quit

    def error(self, message: str) -> None:
        self.emit(events.error(message))
        self.notice(f"error: {message}", style="bold red")

    # --- generation -----------------------------------------------------------------------

    def send(self, text: str, force_action: bool = False) -> TurnResult:
        """Generate a reply in a worker thread, so Ctrl+C stops it cleanly between tokens.

        A user message flagged by input moderation is not sent: headless there is nobody to
        confirm it, so it is refused (the interactive chats ask)."""
        verdict = self.session.check_input(text)
        if verdict is not None and not self.confirm_input(verdict):
            raise ParleyError(f"message not sent: moderation flagged it ({verdict.label or verdict.error})")
        if self.transcript is not None:
            self.transcript.write({"type": "user", "time": events.now(), "content": text})
        cancel = threading.Event()
        done = threading.Event()
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = self.session.send(text, self._write_delta, cancel, force_action)
            except BaseException as err:  # re-raised in the calling thread below
                box["error"] = err
            finally:
                done.set()

        threading.Thread(target=work, name="generate", daemon=True).start()
        # Wait on an Event, not Thread.join: on Python 3.11 a Ctrl+C inside join() can mark a
        # still-running thread as finished (bpo-45274), and we would free the model under it.
        interrupted = False
        while True:
            try:
                if done.wait(0.1):
                    break
            except KeyboardInterrupt:
                interrupted = True
                cancel.set()
        if "error" in box:
            raise box["error"]
        result: TurnResult = box["result"]
        self._finish(result)
        if interrupted and not self.interactive:
            raise KeyboardInterrupt  # the partial reply is recorded; now end the run
        return result

    def confirm_input(self, verdict: Verdict) -> bool:
        return self.interactive and _yes(f"Moderation flagged your message ({verdict.label}). Send it anyway?")

    def _write_delta(self, text: str) -> None:
        if not self.json_mode:
            self.out.write(clean(text))
            self.out.flush()

    def _resolve_actions(self) -> None:
        """Answer pending requests by the approval policy; in a script "ask" waits for /approve."""
        while self.session.pending:
            request = self.session.pending[0]
            answer = self._answer(request)
            if answer is None:
                self.notice(f"[action waiting for /approve or /deny: {request.describe()}]", style="yellow")
                return
            record = self.session.decide(answer)
            self.emit(events.action(record))
            if not self.json_mode:
                self.notice(f"[{record.summary()}]", style="yellow")

    def _answer(self, request: Request) -> bool | None:
        irreversible = request.action.risk == "irreversible" and request.action.name not in self.allow_irreversible
        if self.approve == "always" and not irreversible:
            return True
        if self.approve == "never" or (self.approve == "always" and not self.interactive):
            return False
        if not self.interactive:
            return None
        return _yes(f"The assistant asks to run an action:\n{request.describe()}\nRun it?")

    def _finish(self, result: TurnResult) -> None:
        self._resolve_actions()
        self.emit(events.turn(result))
        if self.json_mode:
            return
        self.out.write("\n")
        self.out.flush()
        reply = result.turn.reply
        for note in moderation_notes(reply.moderation if reply else None):
            self.notice(note, style="yellow")
        if reply is not None and reply.finish_reason == "cancelled":
            self.notice("[stopped]")
        elif reply is not None and reply.finish_reason == "length":
            self.notice(f"[cut at max_tokens = {reply.params.max_tokens}]")
        if result.dropped:
            numbers = ", ".join(map(str, result.dropped))
            self.notice(f"[context full: turn(s) {numbers} moved out of context]")
        for note in guard_notes(reply.guard if reply else None):
            self.notice(note, style="yellow")
