"""The conversation view: messages and notices, rebuilt from a Conversation or streamed turn by
turn from the pipeline's events. Model and user text is always shown literally."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Literal

from markdown_it import MarkdownIt
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markdown import Heading, ListItem
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from chat.commands import candidates_text, numbered_ids, visible
from chat.conversation import Conversation, Turn
from chat.engine import NextToken
from chat.events import Compared, Notice, Severity, TurnDone, reply_notices
from chat.reasoning import ReasoningSplitter, split_reasoning
from chat.sanitize import MARK_CLOSE, MARK_OPEN, clean
from chat.tui.widgets import literal

FRAME = 1 / 10  # seconds between screen updates of a streaming reply (see bench/tui_stream.py)
# Turns kept on screen. Textual lays out every widget on screen at each frame of a streaming reply:
# with all of a long chat mounted, the layout slowed the stream and held hundreds of MB
# (bench/tui_stream.py --history 50, bench/memory.py). Older turns are mounted again when the user
# scrolls up to them. (A reply is one widget, ReplyBody, for the same reason.)
SHOWN_TURNS = 6
PARLEY_MARK = re.compile(f"{MARK_OPEN}[^{MARK_CLOSE}\n]*{MARK_CLOSE}")


def literal_markdown() -> MarkdownIt:
    """Markdown for model text: HTML is shown as text, not hidden, and character references
    (`&#x202e;`) as written, not decoded into characters the sanitiser took out. A link shows its
    address after its text; a bare address (or one in <...>) is text already, so it is not made a
    link, which would show it twice ("http://x (http://x)")."""
    return MarkdownIt("gfm-like", {"html": False}).disable(["entity", "linkify", "autolink"])


class LeftHeading(Heading):
    """Headings at the left, as a chat reads them (Rich centres the first level)."""

    LEVEL_ALIGN = dict.fromkeys(Heading.LEVEL_ALIGN, "left")


class NumberedItem(ListItem):
    """A numbered list item as it was written, "1." (Rich shows "1")."""

    def render_number(self, console: Console, options: ConsoleOptions, number: int, last_number: int) -> RenderResult:
        width = len(str(last_number)) + 3
        lines = console.render_lines(self.elements, options.update(width=options.max_width - width), style=self.style)
        style = console.get_style("markdown.item.number", default="none")
        for index, line in enumerate(lines):
            yield Segment(" " * width if index else f"{number}.".rjust(width - 1) + " ", style)
            yield from line
            yield Segment.line()


class LiteralMarkdown(RichMarkdown):
    """Rich's Markdown renderer over literal_markdown's parse (HTML and character references
    stay as written)."""

    elements = {**RichMarkdown.elements, "heading_open": LeftHeading, "list_item_open": NumberedItem}

    def __init__(self, markup: str) -> None:
        super().__init__("", hyperlinks=False)
        self.markup = markup
        self.parsed = literal_markdown().parse(markup)
        self._rendered: tuple[tuple[int, int], list[RenderableType | Segment]] | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Textual renders a widget's content twice in a frame, once to measure its height and
        # once to draw it; each frame of a streaming reply did the Markdown's work twice.
        key = (id(console), options.max_width)
        if self._rendered is None or self._rendered[0] != key:
            self._rendered = key, list(super().__rich_console__(console, options))  # Segments
        yield from self._rendered[1]


class ReplyBody(Static):
    """A reply's Markdown as one widget. Textual's Markdown widget makes a widget of every block
    (four of every list item), and each frame of a streaming reply lays out every widget on
    screen while the generation thread waits for the GIL (bench/tui_stream.py); Rich renders a
    2,000-token reply in ~3 ms."""

    def __init__(self, markdown: str, classes: str = "") -> None:
        super().__init__(LiteralMarkdown(markdown), classes=classes)
        self.source = markdown

    def show(self, markdown: str) -> None:
        self.source = markdown
        self.update(LiteralMarkdown(markdown))


def mark_removed(markdown: str) -> str:
    """Show Parley's marks in a reply (what moderation or the guard removed) as inline code, so
    they stand out from the model's text; model text cannot contain the mark brackets."""
    return PARLEY_MARK.sub(lambda m: f"`{m.group()}`", markdown)


class NoticeView(Static):
    """A one-paragraph notice inside the conversation: command output, errors, warnings."""

    def __init__(self, text: str, severity: Severity = "information", kind: str = "") -> None:
        # The kind as a class too: /continue takes a reply's old "finish" notice away.
        super().__init__(literal(text), classes=f"notice -{severity}" + (f" -{kind}" if kind else ""))


class MessageView(Vertical):
    """One message. Assistant replies render as Markdown and can stream; notices can sit above
    or below the body (the moderation filter and the action guard use them). A click focuses
    it; then c copies it to the clipboard."""

    can_focus = True
    BINDINGS = [
        Binding("c", "copy", "Copy message"),
        Binding("e", "edit", "Edit message"),
        Binding("less_than_sign", "branch('prev')", "Previous version"),
        Binding("greater_than_sign", "branch('next')", "Next version"),
    ]

    class Command(Message):
        """A key on this message asks for a slash command (/branch N next) or an edit."""

        def __init__(self, line: str, run: bool) -> None:
            super().__init__()
            self.line = line
            self.run = run  # False: put it in the input to be finished first (/edit N TEXT)

    class Arrived(Message):
        """Streamed text is waiting in `pending` (posted at most once until it is taken)."""

    def __init__(
        self,
        role: Literal["user", "assistant"],
        text: str = "",
        turn: int | None = None,
        in_context: bool = True,
        notices: Sequence[Notice] = (),
    ) -> None:
        super().__init__(classes=f"message -{role}" + ("" if in_context else " -out-of-context"))
        self.role = role
        self.turn = turn
        self._text = clean(text)
        self._notices = notices  # moderation's above the body, the others below
        self.versions = ""  # "2/3": which version of the turns from here on is shown
        self._thinking = ReasoningSplitter()  # streamed text: a reasoning model's thinking apart
        self._answer = ""  # the answer streamed so far (the reply without its thinking)
        if role == "assistant" and self._text:  # a reply drawn whole (opened, redrawn): /continue goes on from it
            self._thinking.feed(self._text)
            self._answer = split_reasoning(self._text)[1]
        self._pending: list[str] = []
        self._pending_lock = threading.Lock()

    def _label(self) -> str:
        label = "You" if self.role == "user" else "Assistant"
        if self.versions:
            label += f"  ‹{self.versions}›  (< > switch)"
        return f"{label}  (out of context)" if self.has_class("-out-of-context") else label

    def compose(self) -> ComposeResult:
        yield Static(literal(self._label()), classes="role")
        # As when the reply came: moderation's notices above it, the others below.
        for notice in self._notices:
            if notice.kind == "moderation":
                yield NoticeView(notice.text, notice.severity, notice.kind)
        if self.role == "user":
            yield Static(literal(self._text), classes="body")
        else:
            reasoning, answer = split_reasoning(self._text)
            with Collapsible(title="Reasoning", collapsed=True, classes="reasoning" + ("" if reasoning else " -empty")):
                yield Static(literal(reasoning), classes="reasoning-text")
            yield ReplyBody(mark_removed(answer), classes="body")
        for notice in self._notices:
            if notice.kind != "moderation":
                yield NoticeView(notice.text, notice.severity, notice.kind)

    @property
    def text(self) -> str:
        return self._text

    def action_edit(self) -> None:
        if self.role == "user" and self.turn is not None:
            self.post_message(self.Command(f"/edit {self.turn} {self._text}", run=False))

    def action_branch(self, direction: str) -> None:
        if self.turn is not None and self.versions:
            self.post_message(self.Command(f"/branch {self.turn} {direction}", run=True))

    def show_versions(self, versions: str) -> None:
        """ "2/3" when the turns from this one on exist in several versions (< and > switch)."""
        self.versions = versions
        self.query_one(".role", Static).update(literal(self._label()))

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self._text)  # OSC 52: works over SSH too
        self.app.notify(f"copied the {'message' if self.role == 'user' else 'reply'} ({len(self._text)} characters)")

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
        await self._show(*self._thinking.feed(fragment))

    async def _show(self, reasoning: str, answer: str) -> None:
        if reasoning:
            box = self.query_one(Collapsible)
            box.remove_class("-empty")
            shown = self.query_one(".reasoning-text", Static)
            shown.update(literal(str(shown.content) + reasoning))
        if answer:
            self._answer += answer
            self.query_one(ReplyBody).show(mark_removed(self._answer))

    async def finish(self) -> None:
        await self.flush()
        await self._show(*self._thinking.finish())
        self._thinking = ReasoningSplitter()  # /continue goes on from the whole text
        self._thinking.feed(self._text)

    async def replace(self, text: str) -> None:
        """Show `text` instead of everything streamed so far (a reply withheld or redacted)."""
        self._text = clean(text)
        reasoning, answer = split_reasoning(self._text)
        self.query_one(Collapsible).set_class(not reasoning, "-empty")
        self.query_one(".reasoning-text", Static).update(literal(reasoning))
        self._answer = answer
        self.query_one(ReplyBody).show(mark_removed(answer))

    def add_notice(self, text: str, position: Literal["above", "below"], severity: Severity, kind: str = "") -> None:
        notice = NoticeView(text, severity, kind)
        if position == "above":
            self.mount(notice, after=self.query_one(".role"))
        else:
            self.mount(notice)

    def set_out_of_context(self, value: bool) -> None:
        self.set_class(value, "-out-of-context")
        self.query_one(".role", Static).update(literal(self._label()))


class EarlierTurns(Static):
    """The line above the turns on screen that says how many earlier ones are not; a click (or
    scrolling up to it) shows more."""

    def show_count(self, hidden: int) -> None:
        self.display = hidden > 0
        more = min(hidden, SHOWN_TURNS)
        self.update(literal(f"▲ {hidden} earlier turn{'s' * (hidden != 1)}: scroll up or click to show {more} more"))

    async def on_click(self) -> None:
        view = self.parent
        if isinstance(view, ConversationView):
            await view.show_earlier()


class ConversationView(VerticalScroll):
    """The messages of a conversation and the notices about them, newest at the bottom; at most
    SHOWN_TURNS (and those since the last trim) on screen, the earlier ones on request."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.reply: MessageView | None = None  # the reply of the turn in progress
        self.turns: list[Turn] = []  # the turns shown or hidden here, finished ones, in order
        self.hidden = 0  # how many of `turns`, from the first, are not on screen
        self.earlier = EarlierTurns(classes="notice -earlier")
        self._branched: Conversation | None = None  # whose versions the messages show (show_versions)

    def compose(self) -> ComposeResult:
        yield self.earlier

    def on_mount(self) -> None:
        self.earlier.show_count(0)
        self.anchor()  # stay at the bottom while text streams in

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.hidden and old_value > 0 and new_value == 0:  # the user scrolled up to the top
            self.call_later(self.show_earlier)

    def say(self, text: str, severity: Severity = "information") -> None:
        """A notice about the conversation as a whole (command output, errors)."""
        self.mount(NoticeView(text, severity))

    def show_tokens(self, found: list[tuple[int, str]]) -> None:
        """/tokens: each token shaded apart from its neighbours, then their ids."""
        shaded = Text(f"{len(found)} token{'s' * (len(found) != 1)}\n")
        for index, (_, piece) in enumerate(found):
            shaded.append(clean(visible(piece)), style="on grey30" if index % 2 else "on grey19")
        shaded.append("\nids: " + numbered_ids(found), style="dim")
        self.mount(Static(shaded, classes="notice -tokens"))

    def show_probs(self, found: NextToken) -> None:
        """/probs: what each sampler stage keeps, then the final candidates as bars."""
        chart = Text()
        if found.written is None:
            chart.append("next token after the last reply\n", style="bold")
        else:
            chart.append(f"token {found.position} of the last reply", style="bold")
            chart.append(f' (it has "{clean(visible(found.written.text))}", {found.written.p:.2%} raw)\n')
        for stage in found.stages:
            chart.append(f"{stage.name:<12}", style="bold")
            chart.append(f"{stage.kept:>7,} left", style="dim")
            if stage.top:
                chart.append(f"   top {clean(candidates_text(stage.top[:1]))}")
            chart.append(f"   {stage.setting}\n", style="dim")
        for candidate in found.stages[-1].top:  # what generation draws from
            chart.append(f"{candidate.p:7.2%} ")
            chart.append("█" * max(1, round(candidate.p * 40)), style="bold")
            chart.append(f' "{clean(visible(candidate.text))}"\n')
        self.mount(Static(chart, classes="notice -probs"))

    def show_compared(self, compared: Compared) -> None:
        """/compare: the replies side by side, each under its settings, with its notices."""
        columns = Horizontal(classes="compared")
        self.mount(columns)
        for index, each in enumerate(compared.replies):
            column = Vertical(classes="compared-reply")
            columns.mount(column)
            column.mount(Static(literal(f"{each.settings}  (seed {each.reply.params.seed})"), classes="role"))
            column.mount(ReplyBody(mark_removed(clean(each.reply.content)), classes="body"))
            for notice in compared.notices(index):
                column.mount(NoticeView(notice.text, notice.severity))

    async def start_turn(self, user: str, number: int) -> None:
        self.reply = MessageView("assistant", turn=number)
        await self.mount_all([MessageView("user", user, number), self.reply])

    def show_versions(self, conversation: Conversation) -> None:
        """Label each user message from which the conversation branches with its version (and
        those mounted later, when the user scrolls up to them)."""
        self._branched = conversation
        points = {b.turn for b in conversation.branches if b.turns}
        for view in self.query(MessageView):
            if view.role == "user" and view.turn is not None:
                count = len(conversation.versions(view.turn)) if view.turn in points else 0
                label = f"{conversation.shown(view.turn)}/{count}" if count > 1 else ""
                if label != view.versions:
                    view.show_versions(label)

    def dim_turns(self, numbers: list[int]) -> None:
        """Mark the turns that left the context window."""
        for view in self.query(MessageView):
            if view.turn in numbers:
                view.set_out_of_context(True)

    def continue_turn(self, number: int) -> None:
        """The reply of turn `number` streams on (/continue)."""
        views = [v for v in self.query(MessageView) if v.role == "assistant" and v.turn == number]
        self.reply = views[-1] if views else None
        if self.reply is not None:  # why it stopped before ("cut at max_tokens") is said again when it stops
            self.reply.query("NoticeView.-finish").remove()

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
            position: Literal["above", "below"] = "above" if notice.kind == "moderation" else "below"
            self.reply.add_notice(notice.text, position, notice.severity, notice.kind)

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
        self.dim_turns(done.dropped)
        self.reply = None
        if not self.turns or self.turns[-1] is not done.turn:  # a continued reply is the same turn
            self.turns.append(done.turn)
        if len(self.turns) - self.hidden >= 2 * SHOWN_TURNS:  # trimmed in batches: a layout each
            await self._hide_oldest(len(self.turns) - self.hidden - SHOWN_TURNS)

    async def show(self, conversation: Conversation) -> None:
        """Show `conversation` afresh (after /clear, /load, /undo, /retry): its last turns."""
        self.reply = None
        await self.remove_children([child for child in self.children if child is not self.earlier])
        self.turns = list(conversation.turns)
        self.hidden = max(0, len(self.turns) - SHOWN_TURNS)
        await self.mount_all(self._views(self.hidden, len(self.turns)))
        self.earlier.show_count(self.hidden)

    async def trim_to(self, conversation: Conversation) -> bool:
        """After /undo or /retry, when `conversation` is the one on screen but for its last turns:
        only their views go, so what commands said stays where it was. False (nothing done) when
        it is not."""
        kept = len(conversation.turns)
        if kept > len(self.turns) or any(a is not b for a, b in zip(conversation.turns, self.turns, strict=False)):
            return False
        self.reply = None
        gone = [c for c in self.children if isinstance(c, MessageView) and c.turn is not None and c.turn > kept]
        await self.remove_children(gone)
        self.turns = self.turns[:kept]
        self.hidden = min(self.hidden, kept)
        self.earlier.show_count(self.hidden)
        return True

    async def show_earlier(self) -> None:
        """Mount the SHOWN_TURNS turns before those on screen, above them."""
        if not self.hidden:
            return
        start = max(0, self.hidden - SHOWN_TURNS)
        reading = next((child for child in self.children if child is not self.earlier), None)
        await self.mount_all(self._views(start, self.hidden), after=self.earlier)
        self.hidden = start
        self.earlier.show_count(self.hidden)
        if self._branched is not None:
            self.show_versions(self._branched)
        if reading is not None and self.scroll_y == 0:
            # Keep the reader's place: what was at the top stays there, the turns just shown are
            # above it, and scrolling up to the top again shows the ones before them (left at
            # the top, the view could not scroll up again, and the wheel showed nothing more).
            self.call_after_refresh(self.scroll_to_widget, reading, top=True, animate=False)

    async def _hide_oldest(self, count: int) -> None:
        """Unmount the oldest `count` turns on screen, and the notices said before them."""
        first_kept = self.hidden + count + 1  # 1-based number of the first turn left on screen
        doomed = []
        for child in self.children:
            if isinstance(child, MessageView) and child.turn is not None and child.turn >= first_kept:
                break
            if child is not self.earlier:
                doomed.append(child)
        await self.remove_children(doomed)
        self.hidden += count
        self.earlier.show_count(self.hidden)

    def _views(self, start: int, end: int) -> list[Widget]:
        """The message views of turns[start:end] (numbered from 1), with their notices."""
        views: list[Widget] = []
        for number, turn in enumerate(self.turns[start:end], start=start + 1):
            views.append(MessageView("user", turn.user, number, turn.in_context))
            if turn.reply is not None:
                notices = reply_notices(turn.reply)
                views.append(MessageView("assistant", turn.reply.content, number, turn.in_context, notices))
        return views
