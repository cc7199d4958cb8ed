"""The conversation view: messages and notices, rebuilt from a Conversation or streamed turn by
turn from the pipeline's events. Model and user text is always shown literally."""

from __future__ import annotations

import re
import threading
from typing import Literal

from markdown_it import MarkdownIt
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from chat.conversation import Conversation
from chat.events import Notice, Severity, TurnDone, finish_notices
from chat.sanitize import MARK_CLOSE, MARK_OPEN, clean
from chat.tui.widgets import literal

FRAME = 1 / 10  # seconds between screen updates of a streaming reply (see bench/tui_stream.py)
PARLEY_MARK = re.compile(f"{MARK_OPEN}[^{MARK_CLOSE}\n]*{MARK_CLOSE}")


def literal_markdown() -> MarkdownIt:
    """Markdown for model text: HTML is shown as text, not hidden, and character references
    (`&#x202e;`) as written, not decoded into characters the sanitiser took out."""
    return MarkdownIt("gfm-like", {"html": False}).disable("entity")


def mark_removed(markdown: str) -> str:
    """Show Parley's marks in a reply (what moderation or the guard removed) as inline code, so
    they stand out from the model's text; model text cannot contain the mark brackets."""
    return PARLEY_MARK.sub(lambda m: f"`{m.group()}`", markdown)


class NoticeView(Static):
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
            yield Markdown(mark_removed(self._text), classes="body", open_links=False, parser_factory=literal_markdown)

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

    async def finish(self) -> None:
        await self.flush()
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    async def replace(self, text: str) -> None:
        """Show `text` instead of everything streamed so far (a reply withheld or redacted)."""
        self._text = clean(text)
        await self.query_one(Markdown).update(mark_removed(self._text))

    def add_notice(self, text: str, position: Literal["above", "below"], severity: Severity) -> None:
        notice = NoticeView(text, severity)
        if position == "above":
            self.mount(notice, after=self.query_one(".role"))
        else:
            self.mount(notice)

    def set_out_of_context(self, value: bool) -> None:
        self.set_class(value, "-out-of-context")
        role = self.query_one(".role", Static)
        label = "You" if self.role == "user" else "Assistant"
        role.update(literal(f"{label}  (out of context)" if value else label))


class ConversationView(VerticalScroll):
    """The messages of a conversation and the notices about them, newest at the bottom."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.reply: MessageView | None = None  # the reply of the turn in progress

    def on_mount(self) -> None:
        self.anchor()  # stay at the bottom while text streams in

    def say(self, text: str, severity: Severity = "information") -> None:
        """A notice about the conversation as a whole (command output, errors)."""
        self.mount(NoticeView(text, severity))

    async def start_turn(self, user: str, number: int) -> None:
        self.reply = MessageView("assistant", turn=number)
        await self.mount_all([MessageView("user", user, number), self.reply])

    def feed(self, text: str) -> None:
        """Reply text for the turn in progress; safe to call from any thread."""
        if self.reply is not None:
            self.reply.feed(text)

    def add_notice(self, notice: Notice) -> None:
        """Moderation's notices go above the reply they are about, the others below it;
        notices about the whole context, or with no reply in progress, go at the end."""
        if self.reply is None or notice.kind == "context":
            self.say(notice.text, notice.severity)
        else:
            self.reply.add_notice(notice.text, "above" if notice.kind == "moderation" else "below", notice.severity)

    async def withdraw(self, content: str) -> None:
        """The moderation model took the reply back: `content` says so, in its place."""
        if self.reply is not None:
            await self.reply.finish()
            await self.reply.replace(content)

    async def finish_turn(self, done: TurnDone) -> None:
        """The turn is over: show the reply as recorded (moderation or the guard may have
        replaced parts of it), and dim the turns that left the context window."""
        if self.reply is not None:
            await self.reply.finish()
            if clean(done.reply.content) != self.reply.text:
                await self.reply.replace(done.reply.content)
        for view in self.query(MessageView):
            if view.turn in done.dropped:
                view.set_out_of_context(True)
        self.reply = None

    async def show(self, conversation: Conversation) -> None:
        """Show `conversation` afresh (after /clear, /load, /undo, /retry)."""
        self.reply = None
        await self.remove_children()
        for number, turn in enumerate(conversation.turns, start=1):
            views = [MessageView("user", turn.user, number)]
            if turn.reply is not None:
                views.append(MessageView("assistant", turn.reply.content, number))
            await self.mount_all(views)
            for view in views:
                view.set_out_of_context(not turn.in_context)
            for notice in finish_notices(turn.reply) if turn.reply is not None else []:
                views[-1].add_notice(notice.text, "below", notice.severity)
