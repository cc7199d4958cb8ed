"""Screens: help (generated from the command definitions), key bindings, the context panel,
and a keyboard-driven Yes/No confirmation whose default is No."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from chat.commands import COMMANDS
from chat.context import ContextReport
from chat.pipeline import Question
from chat.sampling import describe
from chat.tui.widgets import literal

KEYS = [
    ("Enter", "send the message"),
    ("Shift+Enter, Ctrl+J", "new line in the message"),
    ("Up / Down (empty input)", "recall earlier inputs"),
    ("Tab", "complete the suggested slash command"),
    ("Escape", "stop the reply being generated"),
    ("Ctrl+P", "command palette (every slash command, themes)"),
    ("F1", "this list of keys"),
    ("Ctrl+Q", "quit"),
]


class InfoScreen(ModalScreen[None]):
    """A scrollable panel with a title; Escape, q or Enter closes it."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, title: str, body: Table | Text) -> None:
        super().__init__(classes="info")
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Static(Text(self._title, style="bold"), id="panel-title")
            with VerticalScroll():
                yield Static(self._body)
            yield Static(Text("Escape to close", style="dim"), id="panel-hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)


def help_screen() -> InfoScreen:
    table = Table.grid(padding=(0, 2))
    for command in COMMANDS.values():
        table.add_row(Text(command.usage, style="bold"), Text(command.help))
    table.add_row("", "")
    table.add_row(Text("parameters", style="bold"), "")
    for name, value_range, description in describe():
        table.add_row(Text(f"  {name}"), Text(f"{value_range}: {description}"))
    return InfoScreen("Slash commands", table)


def keys_screen() -> InfoScreen:
    table = Table.grid(padding=(0, 2))
    for key, what in KEYS:
        table.add_row(Text(key, style="bold"), Text(what))
    return InfoScreen("Keys", table)


def context_screen(report: ContextReport) -> InfoScreen:
    table = Table(box=None, show_header=True, header_style="bold")
    table.add_column("part")
    table.add_column("tokens", justify="right")
    table.add_row("system prompt", str(report.system_tokens))
    for turn in report.turns:
        label = f"turn {turn.index}" + ("" if turn.in_context else "  (out of context)")
        table.add_row(Text(label, style="" if turn.in_context else "dim"), str(turn.tokens))
    table.add_row(Text("in context", style="bold"), str(report.used))
    table.add_row("reserved for the reply", str(report.reserved))
    table.add_row("free", str(report.free))
    table.add_row(Text("n_ctx", style="bold"), str(report.n_ctx))
    return InfoScreen("Context window", table)


class ConfirmScreen(ModalScreen[bool]):
    """Ask Yes or No. No is focused: Enter, Escape and n answer No. Yes takes two deliberate
    keys (Tab or an arrow, then Enter) or a click, and nothing answers in the first half second:
    words typed for the input as the dialog opens ("tell me why, yes...") answer nothing."""

    GRACE_S = 0.5

    BINDINGS = [
        Binding("escape,n", "answer(False)", "No"),
        Binding("left,right,tab,shift+tab", "switch", "Switch", show=False),
    ]

    def __init__(self, question: Question) -> None:
        super().__init__(classes="confirm")
        self.question = question
        self._opened = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Static(literal(self.question.title, "bold"), id="panel-title")
            yield Static(literal(f"{self.question.details}\n\n{self.question.prompt}"), id="confirm-details")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes", id="yes", variant="warning")
                yield Button("No", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()
        self._opened = time.monotonic()

    def _answer(self, answer: bool) -> None:
        if time.monotonic() - self._opened >= self.GRACE_S:
            self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._answer(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self._answer(answer)

    def action_switch(self) -> None:
        yes, no = self.query_one("#yes", Button), self.query_one("#no", Button)
        (no if yes.has_focus else yes).focus()
