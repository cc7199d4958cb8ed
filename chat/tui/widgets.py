"""The TUI's widgets: messages, the prompt input with history and slash-command suggestions,
and the status bar. Model and user text is always shown literally (see `chat.sanitize`)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Markdown, Static, TextArea
from textual.widgets.markdown import MarkdownStream

from chat.commands import COMMANDS
from chat.sanitize import clean

Severity = Literal["information", "warning", "error"]
FRAME = 1 / 10  # seconds between screen updates of a streaming reply (see bench/tui_stream.py)


def literal(text: str, style: str = "") -> Text:
    """User or model text as a renderable that is never parsed for markup."""
    return Text(clean(text), style=style)


REMOVED = re.compile(r"\[removed: [a-z_ ]+\]|\[reply withheld by moderation: [^\]]*\]")


def mark_removed(markdown: str) -> str:
    """Show what moderation or the guard removed as inline code, so it stands out from the reply."""
    return REMOVED.sub(lambda m: f"`{m.group()}`", markdown)


class Notice(Static):
    """A one-paragraph notice inside the conversation: command output, errors, warnings."""

    def __init__(self, text: str, severity: Severity = "information") -> None:
        super().__init__(literal(text), classes=f"notice -{severity}")


class MessageView(Vertical):
    """One message. Assistant replies render as Markdown and can stream; notices can sit above
    or below the body (the moderation filter and the action guard use them)."""

    class Arrived(Message):
        """Streamed text is waiting in `pending` (posted at most once until it is taken)."""

    def __init__(self, role: Literal["user", "assistant"], text: str = "", turn: int | None = None) -> None:
        super().__init__(classes=f"message -{role}")
        self.role = role
        self.turn = turn
        self._text = clean(text)
        self._stream: MarkdownStream | None = None
        self._pending: list[str] = []
        self._pending_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield Static(literal("You" if self.role == "user" else "Assistant"), classes="role")
        if self.role == "user":
            yield Static(literal(self._text), classes="body")
        else:
            yield Markdown(mark_removed(self._text), classes="body", open_links=False)

    @property
    def text(self) -> str:
        return self._text

    def feed(self, fragment: str) -> None:
        """Queue streamed text from the generation thread without waiting for the screen:
        the generator never slows down to the UI's pace, and the UI takes text in batches."""
        with self._pending_lock:
            self._pending.append(fragment)
            if len(self._pending) > 1:
                return  # an Arrived message is already on its way
        self.post_message(self.Arrived())

    async def flush(self) -> None:
        with self._pending_lock:
            text, self._pending = "".join(self._pending), []
        if text:  # a frame timer may fire after finish() took everything
            await self.append(text)

    def on_message_view_arrived(self, message: Arrived) -> None:
        # Every screen update re-lays out the screen while holding the GIL, which the generation
        # thread needs between tokens: show streamed text in frames, not token by token.
        message.stop()
        self.set_timer(FRAME, self.flush)

    async def append(self, fragment: str) -> None:
        """Stream more reply text (assistant only); batches when the screen falls behind."""
        fragment = clean(fragment)
        if not fragment:
            return
        self._text += fragment
        if self._stream is None:
            self._stream = Markdown.get_stream(self.query_one(Markdown))
        await self._stream.write(mark_removed(fragment))

    async def finish(self, note: str | None = None) -> None:
        await self.flush()
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if note:
            self.add_notice(note, "below", "warning")

    async def replace(self, text: str) -> None:
        """Show `text` instead of everything streamed so far (a reply withheld by moderation)."""
        self._text = clean(text)
        await self.query_one(Markdown).update(mark_removed(self._text))

    def add_notice(
        self, text: str, position: Literal["above", "below"] = "below", severity: Severity = "warning"
    ) -> None:
        notice = Notice(text, severity)
        if position == "above":
            self.mount(notice, after=self.query_one(".role"))
        else:
            self.mount(notice)

    def set_out_of_context(self, value: bool) -> None:
        self.set_class(value, "-out-of-context")
        role = self.query_one(".role", Static)
        label = "You" if self.role == "user" else "Assistant"
        role.update(literal(f"{label}  (out of context)" if value else label))


class SlashSuggester(Suggester):
    """Completes a slash command's name from the command definitions."""

    async def get_suggestion(self, value: str) -> str | None:
        if not value.startswith("/") or " " in value:
            return None
        matches = [name for name in COMMANDS if name.startswith(value[1:].lower())]
        return f"/{matches[0]}" if matches else None


class PromptInput(TextArea):
    """Multi-line input. Enter sends; Shift+Enter or Ctrl+J inserts a newline; Up/Down in an
    empty input recall earlier inputs; Tab accepts the slash-command suggestion."""

    @dataclass
    class Submitted(Message):
        text: str

    @dataclass
    class SuggestionChanged(Message):
        suggestion: str | None

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, compact=True, **kwargs)  # type: ignore[arg-type]
        self.inputs: list[str] = []
        self._history_pos: int | None = None
        self._suggester = SlashSuggester(use_cache=False)
        self.slash_suggestion: str | None = None

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            self._stop(event)
            self.post_message(self.Submitted(self.text))
            return
        if event.key in ("shift+enter", "ctrl+j"):
            self._stop(event)
            self.insert("\n")
            return
        if event.key == "tab" and self.slash_suggestion:
            self._stop(event)
            self.load_text(self.slash_suggestion + " ")
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

    def remember(self, text: str) -> None:
        if text and (not self.inputs or self.inputs[-1] != text):
            self.inputs.append(text)
        self._history_pos = None

    async def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        suggestion = await self._suggester.get_suggestion(self.text.strip())
        self.slash_suggestion = suggestion if suggestion != self.text.strip() else None
        self.post_message(self.SuggestionChanged(self.slash_suggestion))


class StatusBar(Static):
    """Model, context meter (colour changes at 80% and 95%), sampling, speed of the last reply."""

    def show(
        self,
        model: str,
        used: int,
        n_ctx: int,
        sampling: str,
        speed: str = "",
        state: str = "",
    ) -> None:
        ratio = used / n_ctx if n_ctx else 0.0
        level = "ok" if ratio < 0.8 else "high" if ratio < 0.95 else "full"
        width = 12
        filled = min(width, round(ratio * width))
        line = Text()
        line.append(f" {model} ", style="bold")
        line.append(" ctx ")
        line.append("█" * filled, style={"ok": "green", "high": "yellow", "full": "red"}[level])
        line.append("░" * (width - filled), style="dim")
        line.append(f" {used}/{n_ctx} ")
        line.append(f" {sampling} ", style="dim")
        if speed:
            line.append(f" {speed} ")
        if state:
            line.append(f" {state} ", style="bold")
        self.meter_level = level
        self.update(line)
        self.set_class(level == "high", "-ctx-high")
        self.set_class(level == "full", "-ctx-full")
