"""The TUI's input and status widgets: the prompt input with history and slash-command
suggestions, and the status bar. Model and user text is always shown literally (see `chat.sanitize`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static, TextArea

from chat.commands import COMMANDS
from chat.sanitize import clean


def literal(text: str, style: str = "") -> Text:
    """User or model text as a renderable that is never parsed for markup."""
    return Text(clean(text), style=style)


def slash_matches(value: str) -> list[str]:
    """The slash commands whose name begins with what is typed ("/co": /compact, /compare, ...)."""
    if not value.startswith("/") or " " in value:
        return []
    return [f"/{name}" for name in COMMANDS if name.startswith(value[1:].lower())]


class PromptInput(TextArea):
    """Multi-line input. Enter sends, and empties it at once (keys typed before the app reads the
    message start the next one; the app gives back what it cannot take); Shift+Enter or Ctrl+J
    inserts a newline; Up/Down in an empty input recall earlier inputs; Tab accepts the
    slash-command suggestion, and again goes on to the next command that begins the same way;
    PageUp and PageDown scroll the conversation (the input is a few lines: paging it would do
    nothing)."""

    BINDINGS = [
        Binding("pageup", "app.page_conversation(-1)", "Scroll up", show=False),
        Binding("pagedown", "app.page_conversation(1)", "Scroll down", show=False),
    ]

    @dataclass
    class Submitted(Message):
        text: str

    @dataclass
    class SuggestionChanged(Message):
        suggestion: str | None
        others: list[str]  # the other commands that begin the same way (Tab again goes to them)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, compact=True, **kwargs)  # type: ignore[arg-type]
        self.inputs: list[str] = []
        self._history_pos: int | None = None
        self.slash_suggestion: str | None = None
        self._cycle: list[str] = []  # the commands Tab goes through, after Tab completed the first

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            self._stop(event)
            text = self.text
            if text.strip():  # emptied now: keys typed before the app reads the message go to a new one
                self.clear()
            self.post_message(self.Submitted(text))
            return
        if event.key in ("shift+enter", "ctrl+j"):
            self._stop(event)
            self.insert("\n")
            return
        if event.key == "tab" and (self.slash_suggestion or self._cycle):
            self._stop(event)
            if self._cycle and self.text == self._cycle[0] + " ":  # Tab again: the next one
                self._cycle = [*self._cycle[1:], self._cycle[0]]
            else:
                self._cycle = slash_matches(self.text.strip())
            self.load_text(self._cycle[0] + " ")
            self.move_cursor(self.document.end)
            return
        if event.key in ("up", "down") and (not self.text or self._history_pos is not None):
            if self._recall(-1 if event.key == "up" else 1):
                self._stop(event)
                return
        await super()._on_key(event)

    @staticmethod
    def _stop(event: events.Key) -> None:
        event.stop()
        event.prevent_default()

    def _recall(self, step: int) -> bool:
        if not self.inputs:
            return False
        pos = len(self.inputs) if self._history_pos is None else self._history_pos
        pos = max(0, min(len(self.inputs), pos + step))
        self._history_pos = None if pos == len(self.inputs) else pos
        self.load_text("" if self._history_pos is None else self.inputs[pos])
        self.move_cursor(self.document.end)
        return True

    def remember(self, text: str) -> bool:
        """Keep `text` for Up to recall; False when it repeats the last one (not kept twice)."""
        self._history_pos = None
        if text and (not self.inputs or self.inputs[-1] != text):
            self.inputs.append(text)
            return True
        return False

    async def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        if not self._cycle or self.text != self._cycle[0] + " ":  # typed: Tab starts afresh
            self._cycle = []
        typed = self.text.strip()
        matches = slash_matches(typed)
        self.slash_suggestion = matches[0] if matches and matches[0] != typed else None
        self.post_message(self.SuggestionChanged(self.slash_suggestion, matches[1:] if self.slash_suggestion else []))


class StatusBar(Static):
    """Model, context meter (colour changes at 80% and 95%), sampling, speed of the last reply,
    and details (device, moderation, guard). The count reads "~" when it is an estimate and "?"
    when it cannot be had now (a server down). It stays one line: on a narrow terminal the least
    important parts are left out, details first, then sampling, then speed."""

    _parts: list[tuple[Text, int]] = []  # set by show()
    _details = 0
    _state = Text()

    def show(
        self,
        model: str,
        used: int | None,
        n_ctx: int,
        sampling: str,
        speed: str = "",
        state: str = "",
        approximate: bool = False,
        details: Sequence[tuple[str, int]] = (),
    ) -> None:
        """`details`: (text, rank) pairs; the lowest rank is left out first, 9 never."""
        ratio = (used or 0) / n_ctx if n_ctx else 0.0
        level = "ok" if ratio < 0.8 else "high" if ratio < 0.95 else "full"
        width = 12
        filled = min(width, round(ratio * width))
        meter = Text(" ctx ")
        meter.append("█" * filled, style={"ok": "green", "high": "yellow", "full": "red"}[level])
        meter.append("░" * (width - filled), style="dim")
        meter.append(f" {'?' if used is None else '~' * approximate + str(used)}/{n_ctx} ")
        # (text, how important: the lowest is left out first, 9 never); shown in this order.
        self._parts: list[tuple[Text, int]] = [(Text(f" {model} ", style="bold"), 9), (meter, 9)]
        if sampling:
            self._parts.append((Text(f" {sampling} ", style="dim"), 4))
        if speed:
            self._parts.append((Text(f" {speed} "), 5))
        self._details = len(self._parts)  # where the details begin: kept ones are joined with " · "
        self._parts += [(Text(text), rank) for text, rank in details]
        self._state = Text(f" {state} ", style="bold") if state else Text()
        self.update(self._fit())
        self.set_class(level == "high", "-ctx-high")
        self.set_class(level == "full", "-ctx-full")

    def _fit(self) -> Text:
        """The parts that fit, the most important first (each that fits is taken), in order."""
        room = (self.size.width or 10_000) - self._state.cell_len  # before layout: all, fitted on resize

        def line(kept: set[int]) -> Text:
            main = [text for i, (text, _) in enumerate(self._parts) if i in kept and i < self._details]
            details = [text for i, (text, _) in enumerate(self._parts) if i in kept and i >= self._details]
            return Text().join([*main, *([Text(" ") + Text(" · ").join(details) + Text(" ")] if details else [])])

        kept: set[int] = set()
        for i in sorted(range(len(self._parts)), key=lambda i: -self._parts[i][1]):
            if self._parts[i][1] == 9 or line(kept | {i}).cell_len <= room:
                kept.add(i)
        return line(kept) + self._state

    def on_resize(self, event: events.Resize) -> None:
        if self._parts:
            self.update(self._fit())
