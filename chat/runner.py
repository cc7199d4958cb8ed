"""The headless front end: runs user messages and slash commands through the turn pipeline and
renders its events.

Shared by `ask`, `run`, piped stdin and the interactive line chat: replies stream to `out`;
notices, command output and errors go to `err`. With `json_mode`, `out` gets every recorded
event as one JSON line instead. Ctrl+C stops the reply in progress (the partial reply is kept).
"""

from __future__ import annotations

import base64
import signal
import sys
import termios
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from typing import TextIO

from rich.console import Console
from rich.text import Text

from chat.commands import describe_next_token
from chat.errors import ParleyError, Terminated
from chat.events import (
    CommandRan,
    Compacted,
    Compared,
    CopyAsked,
    ErrorRaised,
    Event,
    Notice,
    ProbsShown,
    ReplyContinued,
    Severity,
    TextShown,
    TurnDone,
    UserSent,
)
from chat.pipeline import ApprovalPolicy, ApproveMode, Pipeline, Question
from chat.reasoning import ReasoningSplitter
from chat.sanitize import clean, json_line, mark
from chat.script import Step
from chat.session import Session
from chat.transcript import Transcript

STYLES: dict[Severity, str] = {"information": "dim", "warning": "yellow", "error": "bold red"}


@contextmanager
def typed_keys_echoed(echoed: bool) -> Iterator[None]:
    """While it lasts, the terminal echoes the keys typed at it, or not. In a line chat, keys
    typed while a reply streams are not echoed into it (Escape showed as ^[ in the middle of the
    reply); a line typed ahead still reaches the next prompt, shown there by readline. Nothing
    happens when stdin is not a terminal."""
    try:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (termios.error, OSError, ValueError, AttributeError):  # not a terminal, or no stdin
        yield
        return
    changed = list(saved)
    changed[3] = saved[3] | termios.ECHO if echoed else saved[3] & ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, changed)
    try:
        yield
    finally:
        with suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSANOW, saved)


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
        can_ask: bool = False,
        approve: ApproveMode | None = None,
        allow_irreversible: frozenset[str] = frozenset(),
    ) -> None:
        self.session = session
        self.interactive = interactive  # a line chat: Ctrl+C stops the reply only, not the run
        self.json_mode = json_mode
        self.out = out or sys.stdout
        self.console = Console(file=err or sys.stderr, highlight=False, soft_wrap=True)
        self.interrupted = False
        self.terminated = False
        self._reply_open = False  # a reply is being shown (until its TurnDone)
        self._line_open = False  # reply text is on `out` and its line is not ended yet
        self._reasoning = ReasoningSplitter()  # the reply being shown: thinking apart from answer
        # A person at the terminal answers action requests unless told otherwise; nobody else can.
        policy = ApprovalPolicy(
            approve or ("ask" if can_ask else "never"),
            allow_irreversible | frozenset(session.config.actions.allow_irreversible),
        )
        self.pipeline = Pipeline(
            session, self.render, policy=policy, ask=self.ask if can_ask else None, transcript=transcript,
        )  # fmt: skip

    def start(self) -> int:
        """Report the session; the exit code of the error that stops it before it begins, else 0."""
        try:
            self.pipeline.start()
        except ParleyError as err:  # already shown, through the error event
            return err.exit_code
        return 0

    # --- running steps ------------------------------------------------------------------------

    def run(self, steps: Iterable[Step], keep_going: bool = False) -> int:
        """Run steps in order; return the exit code: the last step's in a line chat (as a shell
        does), else the first error's (0 when none)."""
        first = last = 0
        for step in steps:
            last = 0
            try:
                if not self.step(step):
                    break
            except ParleyError as err:  # already shown, through the error event
                last = err.exit_code
                first = first or last
                if not keep_going:
                    break
        return last if self.interactive else first

    def step(self, step: Step) -> bool:
        """Run one step; False when the user asked to quit."""
        self.interrupted = False
        cancel = threading.Event()
        quiet = typed_keys_echoed(False) if self.interactive else nullcontext()
        with self._interrupt_stops(cancel), quiet:
            go_on = True
            if step.kind == "user":
                self.pipeline.send(step.text, cancel)
            else:
                go_on = self.pipeline.command(step.text, cancel)
        if self.terminated:
            raise Terminated  # the partial reply is recorded; now end, even an interactive chat
        if self.interrupted and not self.interactive:
            raise KeyboardInterrupt  # the partial reply is recorded; now end the run
        return go_on

    @contextmanager
    def _interrupt_stops(self, cancel: threading.Event) -> Iterator[None]:
        """While a step runs, Ctrl+C (or SIGTERM) stops the reply between tokens instead of
        raising anywhere, so the partial reply is recorded."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum: int, frame: object) -> None:
            self.interrupted = True
            self.terminated = self.terminated or signum == signal.SIGTERM
            cancel.set()

        previous = signal.signal(signal.SIGINT, stop), signal.signal(signal.SIGTERM, stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])

    def ask(self, question: Question) -> bool:
        """Ask at the terminal; anything but yes is no (Ctrl+C and end of input too)."""
        self.notice(f"{question.title}\n{question.details}", "yellow")
        self.console.print(Text(f"{question.prompt} [y/N] "), end="")  # on err: out may be JSON
        if sys.stdin.isatty():  # a line typed ahead, while the reply streamed, answers nothing
            with suppress(termios.error, OSError, ValueError):
                termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            with typed_keys_echoed(True):
                return input().strip().lower() in ("y", "yes")
        except (KeyboardInterrupt, EOFError):
            print(file=self.console.file)
            return False
        finally:
            signal.signal(signal.SIGINT, previous)

    # --- rendering ----------------------------------------------------------------------------

    def notice(self, text: str, style: str = "dim") -> None:
        # Text(...) is never parsed for markup: the text may quote the model or the user.
        self.console.print(Text(clean(text), style=style))

    def copy(self, text: str) -> None:
        """Put `text` on the clipboard of the terminal we run in, with OSC 52 (it works over SSH
        and in tmux with set-clipboard on); with no terminal, say so."""
        terminal = self.console.file
        if not (hasattr(terminal, "isatty") and terminal.isatty()):
            self.notice(
                "no terminal to copy to (the text is in the conversation and the transcript)", STYLES["warning"]
            )
            return
        terminal.write(f"\x1b]52;c;{base64.b64encode(text.encode()).decode()}\x07")
        terminal.flush()

    def _write_reply(self, reasoning: str, answer: str) -> None:
        """The answer to stdout; a reasoning model's thinking dimmed on stderr, or not at all."""
        if reasoning and self.session.show_reasoning:
            self.console.print(Text(reasoning, style="dim italic"), end="")
        if answer:
            self.out.write(answer)
            self.out.flush()
            self._line_open = not answer.endswith("\n")

    def render(self, event: Event) -> None:
        if self.json_mode:
            if event.recorded:
                self.out.write(json_line(event.to_json()) + "\n")
                self.out.flush()
            return
        if isinstance(event, TextShown):
            self._write_reply(*self._reasoning.feed(clean(event.text)))
            return
        if self._reply_open and isinstance(event, TurnDone | UserSent | ReplyContinued):  # the reply is over
            self._write_reply(*self._reasoning.finish())
            self._reply_open = False
        if self._line_open:  # a notice while the reply streams, or its end: the reply's line ends first
            self.out.write("\n")
            self.out.flush()
            self._line_open = False
        if isinstance(event, UserSent | ReplyContinued):
            self._reply_open = True
            self._reasoning = ReasoningSplitter()
            if isinstance(event, ReplyContinued):  # it may go on thinking: read what came before
                reply = self.session.conversation.turns[event.turn - 1].reply
                self._reasoning.feed(reply.content if reply else "")
        elif isinstance(event, Notice):
            self.notice(mark(event.text), STYLES[event.severity])
        elif isinstance(event, CommandRan) and event.ok and event.output:
            self.notice(event.output, style="")
        elif isinstance(event, CopyAsked):
            self.copy(event.text)
        elif isinstance(event, ProbsShown):
            self.notice(describe_next_token(event.found), style="")
        elif isinstance(event, Compared):
            for index, compared in enumerate(event.replies):  # one after the other: a terminal has no columns
                self.notice(f"── {compared.settings} (seed {compared.reply.params.seed}) ──", style="bold")
                self.out.write(clean(compared.reply.content) + "\n")
                self.out.flush()
                for notice in event.notices(index):
                    self.notice(mark(notice.text), STYLES[notice.severity])
        elif isinstance(event, Compacted):
            self.notice(event.text(), STYLES["information"])
        elif isinstance(event, ErrorRaised):
            self.notice(f"error: {event.error}", STYLES["error"])
