"""The conversation view on its own, in a small host app: turns streamed from events, notices
placed by what they are about, and a saved conversation shown afresh."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widget import Widget

from chat.context import ContextReport, TurnUsage
from chat.conversation import Conversation, FinishReason, Reply, Turn
from chat.events import Notice, TurnDone
from chat.sampling import Sampling
from chat.tui import app as tui_app
from chat.tui.conversation import SHOWN_TURNS, ConversationView, EarlierTurns, MessageView, NoticeView, ReplyBody
from chat.tui.screens import window_bar
from tests.chat.tui.helpers import wait_until


class Host(App[None]):
    CSS_PATH = Path(tui_app.__file__).with_name("parley.tcss")  # Parley's layout: a view that scrolls
    CSS = "ConversationView { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield ConversationView()


def reply(content: str, finish: FinishReason = "stop") -> Reply:
    return Reply(content=content, model="fake", params=Sampling(max_tokens=8), finish_reason=finish,
                 prompt_tokens=10, completion_tokens=5, evaluated_prompt_tokens=10)  # fmt: skip


def texts(widgets: Iterable[Widget]) -> list[str]:
    return [str(w.render()) for w in widgets]


async def test_a_turn_streams_in_from_another_thread_and_finishes_as_recorded() -> None:
    app = Host()
    async with app.run_test() as pilot:
        view = app.query_one(ConversationView)
        await view.start_turn("hi", 1)

        def stream() -> None:
            for piece in ("You are ", "an idiot. ", "Bye."):
                view.feed(piece)

        feeder = threading.Thread(target=stream)
        feeder.start()
        feeder.join()
        current = view.reply
        assert current is not None
        await wait_until(pilot, lambda: current.text == "You are an idiot. Bye.")
        turn = Turn(user="hi", reply=reply("⟦removed: insult⟧ Bye."))  # what moderation let through
        await view.finish_turn(TurnDone(turn, [], 2048))
        assert current.text == "⟦removed: insult⟧ Bye." and view.reply is None
        assert current.query_one(ReplyBody).source == "`⟦removed: insult⟧` Bye."  # marked as Parley's


async def test_notices_go_where_they_belong() -> None:
    app = Host()
    async with app.run_test() as pilot:
        view = app.query_one(ConversationView)
        await view.start_turn("hi", 1)
        current = view.reply
        assert current is not None
        view.add_notice(Notice("guard", "No action was taken."))
        view.add_notice(Notice("moderation", "moderation: removed: insult 0.90"))
        view.add_notice(Notice("context", "context full: turn(s) 1 moved out of context", "information"))
        await pilot.pause()
        assert [type(w).__name__ for w in current.children] == [
            "Static", "NoticeView", "Collapsible", "ReplyBody", "NoticeView"]  # fmt: skip
        assert texts(current.query(NoticeView)) == ["moderation: removed: insult 0.90", "No action was taken."]
        last = view.children[-1]
        assert isinstance(last, NoticeView) and "context full" in str(last.render())


async def test_finishing_a_turn_dims_the_turns_it_pushed_out() -> None:
    app = Host()
    async with app.run_test() as pilot:
        view = app.query_one(ConversationView)
        for number in (1, 2):
            await view.start_turn(f"q{number}", number)
            await view.finish_turn(TurnDone(Turn(user=f"q{number}", reply=reply("a")), [1] if number == 2 else [], 64))
        await pilot.pause()
        dimmed = [m.turn for m in view.query(MessageView) if m.has_class("-out-of-context")]
        assert dimmed == [1, 1]  # the question and the reply of turn 1


async def test_a_saved_conversation_is_shown_afresh() -> None:
    conversation = Conversation(turns=[
        Turn(user="old", reply=reply("gone"), in_context=False),
        Turn(user="story", reply=reply("Once upon", "cancelled")),
    ])  # fmt: skip
    app = Host()
    async with app.run_test() as pilot:
        view = app.query_one(ConversationView)
        view.say("something earlier")
        await view.show(conversation)
        await pilot.pause()
        messages = list(view.query(MessageView))
        assert [m.text for m in messages] == ["old", "gone", "story", "Once upon"]
        assert [m.has_class("-out-of-context") for m in messages] == [True, True, False, False]
        assert texts(view.query(NoticeView)) == ["stopped"]  # the earlier notice went with the old view


def numbers(view: ConversationView) -> list[int | None]:
    return [m.turn for m in view.query(MessageView) if m.role == "user"]


async def test_a_long_conversation_keeps_its_last_turns_on_screen_and_shows_earlier_ones_on_request() -> None:
    total = 2 * SHOWN_TURNS + 5
    conversation = Conversation(turns=[Turn(user=f"q{i}", reply=reply(f"a{i}")) for i in range(1, total + 1)])
    app = Host()
    async with app.run_test() as pilot:
        view = app.query_one(ConversationView)
        await view.show(conversation)
        await pilot.pause()
        assert numbers(view) == list(range(total - SHOWN_TURNS + 1, total + 1))
        earlier = view.query_one(EarlierTurns)
        assert earlier.display and f"{total - SHOWN_TURNS} earlier turns" in str(earlier.render())
        view.scroll_home(animate=False)  # scrolling up to the top shows more, above
        await wait_until(pilot, lambda: numbers(view) == list(range(total - 2 * SHOWN_TURNS + 1, total + 1)))
        await wait_until(pilot, lambda: view.scroll_y > 0)  # the reader's place is kept...
        assert first_on_screen(view) == total - SHOWN_TURNS + 1
        view.scroll_home(animate=False)  # ...so scrolling up again shows the rest
        await wait_until(pilot, lambda: numbers(view) == list(range(1, total + 1)))
        await wait_until(pilot, lambda: not earlier.display)  # nothing earlier is left to show


async def test_turns_shown_later_carry_their_version_labels() -> None:
    total = SHOWN_TURNS + 3
    conversation = Conversation(turns=[Turn(user="q1", reply=reply("a1"))])
    conversation.fork(1)  # turn 1 was edited: two versions of the turns from there
    conversation.turns += [Turn(user=f"q{i}", reply=reply(f"a{i}")) for i in range(1, total + 1)]
    app = Host()
    async with app.run_test() as pilot:
        view = app.query_one(ConversationView)
        await view.show(conversation)
        view.show_versions(conversation)
        await pilot.pause()
        assert 1 not in numbers(view)  # off screen: turn 1 comes with the earlier ones
        await view.show_earlier()
        (first,) = [m for m in view.query(MessageView) if m.turn == 1 and m.role == "user"]
        assert first.versions == "2/2"


async def test_a_click_on_the_earlier_turns_line_shows_them_when_nothing_scrolls() -> None:
    total = SHOWN_TURNS + 2
    conversation = Conversation(turns=[Turn(user=f"q{i}", reply=reply(f"a{i}")) for i in range(1, total + 1)])
    app = Host()
    async with app.run_test(size=(80, 100)) as pilot:
        view = app.query_one(ConversationView)
        await view.show(conversation)
        await pilot.pause()
        assert view.max_scroll_y == 0 and numbers(view) == list(range(3, total + 1))
        await pilot.click(EarlierTurns)
        await wait_until(pilot, lambda: numbers(view) == list(range(1, total + 1)))


def first_on_screen(view: ConversationView) -> int:
    """The number of the first turn whose message is at least partly in view."""
    top = view.scroll_offset.y
    return min(m.turn for m in view.query(MessageView) if m.turn is not None and m.virtual_region.bottom > top)


async def test_a_live_chat_trims_the_oldest_turns_from_the_screen_in_batches() -> None:
    app = Host()
    async with app.run_test() as pilot:
        view = app.query_one(ConversationView)
        view.say("a command's output, before turn 1")
        for number in range(1, 2 * SHOWN_TURNS + 1):
            await view.start_turn(f"q{number}", number)
            await view.finish_turn(TurnDone(Turn(user=f"q{number}", reply=reply(f"a{number}")), [], 4096))
            if number < 2 * SHOWN_TURNS:
                assert numbers(view)[0] == 1  # not one layout per turn: trimmed in batches
        await pilot.pause()
        assert numbers(view) == list(range(SHOWN_TURNS + 1, 2 * SHOWN_TURNS + 1))
        assert not list(view.query(NoticeView).filter(".-information"))  # said before turn 1: gone too
        await view.show_earlier()
        assert numbers(view) == list(range(1, 2 * SHOWN_TURNS + 1))
        assert [m.text for m in view.query(MessageView)][:2] == ["q1", "a1"]


def test_the_context_bar_draws_each_part_of_the_window_to_scale() -> None:
    turns = [TurnUsage(1, 250, False), TurnUsage(2, 120, True), TurnUsage(3, 200, True)]
    report = ContextReport(n_ctx=1000, system_tokens=100, reserved=200, used=420, turns=turns)
    bar = window_bar(report, width=50)
    first = bar.plain.splitlines()[0]
    assert len(first) == 5 + 6 + 10 + 10 + 19  # system, turn 2, turn 3, reserved, free (380 of 1000)
    assert bar.plain.splitlines()[-1] == "1 turn out of the window (not drawn)"
