"""Screens: help (generated from the command definitions), key bindings, the context panel,
the list of past conversations, and a keyboard-driven Yes/No confirmation whose default is No."""

from __future__ import annotations

import time

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from chat.commands import COMMANDS
from chat.context import ContextReport
from chat.history import History, HistoryError
from chat.pipeline import Question
from chat.sampling import describe
from chat.tui.widgets import literal

KEYS = [
    ("Enter", "send the message"),
    ("Shift+Enter, Ctrl+J", "new line in the message"),
    ("Up / Down (empty input)", "recall earlier inputs"),
    ("Tab", "complete the suggested slash command"),
    ("PageUp / PageDown", "scroll the conversation (earlier turns appear at its top)"),
    ("Escape or Ctrl+C", "stop the reply being generated"),
    ("Ctrl+P", "command palette (every slash command, themes)"),
    ("F2", "past conversations: search, open, delete, new chat"),
    ("Ctrl+N", "a new chat (the one before stays in the history)"),
    ("c (on a message you clicked)", "copy it to the clipboard"),
    ("e (on your message)", "edit it: /edit N TEXT in the input; what followed is kept as a branch"),
    ("< / > (on a message with versions)", "show the previous or next version of the turns from there"),
    ("/copy N, /edit N, /branch N", "the same from the keyboard, by turn number (see /help)"),
    ("F1", "this list of keys"),
    ("Ctrl+Q", "quit"),
]


class InfoScreen(ModalScreen[None]):
    """A scrollable panel with a title; Escape, q or Enter closes it."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, title: str, body: Table | Text | Group) -> None:
        super().__init__(classes="info")
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Static(Text(self._title, style="bold"), id="panel-title")
            with VerticalScroll():
                yield Static(self._body)
            yield Static(Text("Escape to close", style="dim"), id="panel-hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()  # the arrows, PageUp/PageDown, Home and End scroll it

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


def window_bar(report: ContextReport, width: int = 60) -> Text:
    """The context window as one bar: the system prompt, each turn in it (shaded apart), the
    reserve for the reply, what is free; with a legend."""
    parts = [(report.system_tokens, "on magenta", "system")]
    turns = [t for t in report.turns if t.in_context]
    parts += [(t.tokens, "on blue" if i % 2 else "on dark_blue", "") for i, t in enumerate(turns)]
    parts += [(report.reserved, "on yellow", "reserved"), (report.free, "on grey23", "free")]
    bar = Text()
    for tokens, style, _ in parts:
        cells = round(tokens / report.n_ctx * width) if report.n_ctx else 0
        bar.append(" " * (max(1, cells) if tokens else 0), style=style)
    bar.append("\n")
    for label, style in (("system prompt", "on magenta"), ("turns", "on blue"), ("reserved for the reply", "on yellow"),
                         ("free", "on grey23")):  # fmt: skip
        bar.append("  ", style=style)
        bar.append(f" {label}   ")
    out = len(report.turns) - len(turns)
    if out:
        bar.append(f"\n{out} turn{'s' * (out != 1)} out of the window (not drawn)", style="dim")
    return bar


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
    caveat = [Text(""), Text(report.caveat, style="italic")] if report.caveat else []
    return InfoScreen("Context window", Group(window_bar(report), Text(""), table, *caveat))


class HistoryScreen(ModalScreen[tuple[str, int] | None]):
    """Past conversations, newest first; typing searches them (every word, in any turn). Enter
    opens one, Ctrl+R renames one, Delete deletes one (after a Yes), Ctrl+N starts a new chat,
    Escape closes. Dismissed with ("open", id), ("new", 0) or None."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("delete", "delete", "Delete"),
        Binding("ctrl+r", "rename", "Rename"),
        Binding("ctrl+n", "new", "New chat"),
        Binding("down", "to_list", show=False),  # from the search box (the list moves with it itself)
    ]

    def __init__(self, history: History, search: str = "") -> None:
        super().__init__(classes="info")
        self.history = history
        self._search = search

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Static(Text("Conversations", style="bold"), id="panel-title")
            yield Input(self._search, placeholder="search: words in any message or reply", id="history-search")
            yield OptionList(id="history-list")
            hint = "Enter opens · Ctrl+R renames · Delete deletes · Ctrl+N new chat · Escape closes"
            yield Static(Text(hint, style="dim"), id="panel-hint")

    def on_mount(self) -> None:
        self.refill()

    def refill(self) -> None:
        words = self.query_one(Input).value
        listing = self.query_one(OptionList)
        listing.clear_options()
        try:
            entries = self.history.search(words) if words.strip() else self.history.entries()
        except HistoryError as err:
            listing.add_option(Option(literal(f"error: {err}"), disabled=True))
            return
        for entry in entries:
            when = entry.updated.astimezone().strftime("%Y-%m-%d %H:%M")
            turns = f"{entry.turns} turn{'s' * (entry.turns != 1)}"
            # The count before the title: a long title is cut (see #history-list), not the count.
            label = Text.assemble((f"{when}  {turns:>9}  ", "dim"), literal(entry.title or "(untitled)"))
            if entry.match:
                label.append_text(Text.assemble("\n  ", literal(entry.match, "italic")))
            listing.add_option(Option(label, id=str(entry.id)))
        if not entries:
            listing.add_option(Option(Text("no conversation matches" if words.strip() else "none yet"), disabled=True))
        else:  # a row is always chosen: Delete and Ctrl+R act on it, the arrows move from it
            listing.highlighted = 0

    def action_to_list(self) -> None:
        self.query_one(OptionList).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the search box opens the first match (the list's arrows choose another)."""
        listing = self.query_one(OptionList)
        listing.focus()
        if listing.option_count and not listing.get_option_at_index(0).disabled:
            listing.highlighted = 0
            first = listing.get_option_at_index(0)
            if first.id is not None:
                self.dismiss(("open", int(first.id)))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(("open", int(event.option.id)))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_new(self) -> None:
        self.dismiss(("new", 0))

    def _highlighted(self) -> int | None:
        listing = self.query_one(OptionList)
        if listing.highlighted is None:
            return None
        option = listing.get_option_at_index(listing.highlighted)
        return int(option.id) if option.id is not None else None

    def action_rename(self) -> None:
        conversation_id = self._highlighted()
        if conversation_id is None:
            return

        def renamed(title: str | None) -> None:
            if title:
                try:
                    self.history.rename(conversation_id, title)
                except HistoryError as err:
                    self.notify(str(err), severity="error")
                self.refill()

        self.app.push_screen(RenameScreen(), renamed)

    def action_delete(self) -> None:
        conversation_id = self._highlighted()
        if conversation_id is None:
            return
        listing = self.query_one(OptionList)
        option = listing.get_option_at_index(listing.highlighted or 0)

        def answered(yes: bool | None) -> None:
            if yes:
                try:
                    self.history.delete(conversation_id)
                except HistoryError as err:
                    self.notify(str(err), severity="error")
                self.refill()

        question = Question("Delete this conversation?", str(option.prompt), "It cannot be undone.")
        self.app.push_screen(ConfirmScreen(question), answered)


class RenameScreen(ModalScreen[str | None]):
    """One line: a conversation's new title (Enter saves, Escape leaves it)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Static(Text("New title", style="bold"), id="panel-title")
            yield Input(placeholder="a title for the conversation", id="rename")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(" ".join(event.value.split()) or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


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
