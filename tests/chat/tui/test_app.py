"""The TUI driven with Pilot on the fake engine."""

from __future__ import annotations

import html
import json
import re
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from textual.containers import VerticalScroll
from textual.content import Content
from textual.style import Style
from textual.widgets import Collapsible, OptionList, Static

from chat.commands import COMMANDS
from chat.errors import ParleyError
from chat.history import History
from chat.pipeline import Question
from chat.scripted_engine import ScriptedEngine, ScriptedLoader, ScriptedReply
from chat.tui.app import ParleyApp
from chat.tui.conversation import MessageView, NoticeView, ReplyBody
from chat.tui.screens import ConfirmScreen, HistoryScreen, RenameScreen
from chat.tui.widgets import PromptInput, StatusBar
from tests.chat.tui.helpers import answer_dialog, make_app, ready, send, submit, wait_until
from tests.conftest import fake_config, moderated_config


def screen_text(app: ParleyApp) -> str:
    """What the screen shows, as plain text (from the SVG screenshot)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def status_text(app: ParleyApp) -> str:
    return str(app.query_one(StatusBar).render())


def notices(app: ParleyApp) -> list[str]:
    return [str(n.render()) for n in app.query(NoticeView)]


def replies(app: ParleyApp) -> list[MessageView]:
    return [m for m in app.query(MessageView) if m.role == "assistant"]


async def test_a_message_streams_into_the_conversation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, bool]] = []  # (reply length on screen, still generating) after each fragment
    original = MessageView.append

    async def spy(self: MessageView, fragment: str) -> None:
        await original(self, fragment)
        seen.append((len(self.query_one(ReplyBody).source), self.app.generating))  # type: ignore[attr-defined]

    monkeypatch.setattr(MessageView, "append", spy)
    loader = ScriptedLoader()
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        before = status_text(app)
        engine = loader.engines[0]
        engine.token_delay = 0.03  # ~1.4 s: several 0.1 s frames even on a loaded machine
        reply = "Hello there, **friend**. " + " ".join(f"Word{i}." for i in range(20))  # 45 tokens, 21 sentences
        engine.enqueue(reply)
        await submit(pilot, "hi")
        await wait_until(pilot, lambda: bool(replies(app)) and not app.generating)
        assert replies(app)[0].text == reply
        assert len(seen) >= 2 and all(generating for _, generating in seen)  # shown in several frames
        lengths = [length for length, _ in seen if length]
        assert lengths == sorted(lengths) and lengths[0] < len(reply)  # it grew while it streamed
        assert app.query_one(PromptInput).text == ""
        after = status_text(app)
        assert after != before and "tok/s" in after and "TTFT" in after


@pytest.mark.parametrize("key", ["escape", "ctrl+c"])
async def test_escape_stops_a_blocked_stream_and_keeps_the_partial_reply(tmp_path: Path, key: str) -> None:
    loader = ScriptedLoader()
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        engine = loader.engines[0]
        engine.enqueue("never finishes")
        engine.block = threading.Event()  # the stream waits until cancelled
        await submit(pilot, "go")
        await wait_until(pilot, lambda: app.generating)
        await pilot.press(key)
        await wait_until(pilot, lambda: not app.generating)
        assert app.session is not None
        assert app.session.conversation.turns[-1].reply.finish_reason == "cancelled"  # type: ignore[union-attr]
        assert any("stopped" in n for n in notices(app))
        await pilot.press(key)  # with no reply running it does what it did before: nothing is stopped
        await pilot.pause()
        assert app.is_running and not app.return_code


async def test_input_sent_during_generation_is_refused_and_kept(tmp_path: Path) -> None:
    loader = ScriptedLoader()
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        gate = threading.Event()
        loader.engines[0].block = gate
        await submit(pilot, "first")
        await wait_until(pilot, lambda: app.generating)
        await submit(pilot, "second")
        assert app.query_one(PromptInput).text == "second"  # kept for later
        gate.set()
        await wait_until(pilot, lambda: not app.generating)
        assert [t.user for t in app.session.conversation.turns] == ["first"]  # type: ignore[union-attr]


async def test_slash_commands_change_the_status_bar(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, "/temp 0.1")
        await submit(pilot, "/max_tokens 33")
        assert "temp 0.1" in status_text(app) and "max 33" in status_text(app)
        assert "temperature = 0.1" in notices(app)


async def test_a_bad_command_shows_an_error(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, "/tmep 1")
        errors = [n for n in app.query(NoticeView) if n.has_class("-error")]
        assert errors and "did you mean '/temp'" in str(errors[0].render())
        await submit(pilot, "/temp 9")
        assert "expected a number from 0 to 2" in notices(app)[-1]
        assert app.session is not None and app.session.params == app.session.model_config.sampling


async def test_overflow_dims_the_dropped_turns(tmp_path: Path) -> None:
    loader = ScriptedLoader()
    app = make_app(tmp_path, fake_config(tmp_path, n_ctx=300, max_tokens=40), loader)
    long = " ".join(f"w{i}" for i in range(30))
    async with app.run_test() as pilot:
        await ready(pilot)
        for i in range(5):
            loader.engines[0].enqueue(long)
            await send(pilot, f"q{i} {long}")
        dimmed = [m for m in app.query(MessageView) if m.has_class("-out-of-context")]
        assert dimmed and dimmed[0].turn == 1
        assert "(out of context)" in str(dimmed[0].query_one(".role").render())
        assert any("moved out of context" in n for n in notices(app))


async def test_confirmation_modal_answers(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    answers: list[bool | None] = []
    async with app.run_test() as pilot:
        await ready(pilot)
        for keys in (["enter"], ["right", "enter"], ["escape"], ["n"], ["tab", "enter"], ["y"]):
            app.push_screen(ConfirmScreen(Question("Run save_note?", "text: hello", "Run it?")), answers.append)
            await answer_dialog(pilot, *keys)
            await pilot.pause()
    # Enter on the default (No) declines; y is no answer at all (the dialog is still open at the end)
    assert answers == [False, True, False, False, True]


async def test_keys_typed_as_the_dialog_opens_do_not_answer_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Typing "tell me why, yes" while a reply streams must not approve the dialog that opens
    meanwhile: its first moments take no answer, and Yes needs a deliberate Tab then Enter."""
    app = make_app(tmp_path, fake_config(tmp_path))
    answers: list[bool | None] = []
    async with app.run_test() as pilot:
        await ready(pilot)
        monkeypatch.setattr(ConfirmScreen, "GRACE_S", 60.0)  # all that is typed now comes as it opens
        app.push_screen(ConfirmScreen(Question("Run save_note?", "text: hello", "Run it?")), answers.append)
        await pilot.press(*"tell me why", "enter")
        await pilot.pause()
        assert answers == [] and isinstance(app.screen, ConfirmScreen)
        monkeypatch.setattr(ConfirmScreen, "GRACE_S", 0.0)  # later on
        await pilot.press(*"yes yes y")
        await pilot.pause()
        assert answers == [] and isinstance(app.screen, ConfirmScreen)  # no key answers yes alone
        await pilot.press("enter")  # Enter answers the default, No
        await pilot.pause()
    assert answers == [False]


async def test_markup_and_escape_payloads_render_literally(tmp_path: Path) -> None:
    loader = ScriptedLoader()
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    payload = "[bold red]x[/] [@click=app.quit]click[/] \x1b]0;title\x07\x1b[31mred"
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        loader.engines[0].enqueue(payload)
        await send(pilot, "[link=https://evil.example]me[/link] \x1b[2J")
        screen = screen_text(app)
        assert app.is_running
        assert "[bold red]x[/]" in screen and "[@click=app.quit]click[/]" in screen
        assert "[link=https://evil.example]me[/link]" in screen
        assert "\x1b" not in replies(app)[0].text
        assert replies(app)[0].query_one(ReplyBody).source.endswith("[31mred")


async def test_html_and_character_references_in_a_reply_show_as_written(tmp_path: Path) -> None:
    loader = ScriptedLoader()
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        # Hidden HTML could hide text; a decoded &#x202e; would bring back a bidi override.
        loader.engines[0].enqueue("Plain <span hidden>secret</span> and &#x202e;gnp.exe here.")
        await send(pilot, "hi")
        screen = screen_text(app)
        assert "<span hidden>secret</span>" in screen and "&#x202e;gnp.exe" in screen
        assert "\u202e" not in screen


async def test_the_app_survives_an_engine_that_raises_mid_stream(tmp_path: Path) -> None:
    loader = ScriptedLoader()
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        loader.engines[0].enqueue("One. Two. three four")
        loader.engines[0].fail_after = 3
        await send(pilot, "boom")
        assert any("generation failed" in n for n in notices(app))
        assert replies(app)[0].text == "One. "  # "Two." was not moderated yet, so never shown
        loader.engines[0].fail_after = None
        await send(pilot, "again")
        assert replies(app)[-1].text == "You said: again"


async def test_too_long_input_is_refused_and_given_back(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path, n_ctx=200, max_tokens=40))
    huge = " ".join(["word"] * 200)
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, huge)
        assert any("message too long" in n for n in notices(app))
        assert app.query_one(PromptInput).text == huge
        assert not list(app.query(MessageView))


async def test_model_switch_failure_keeps_the_old_model(tmp_path: Path) -> None:
    loader = ScriptedLoader()
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, "/model other")
        await ready(pilot)
        assert app.session is not None and app.session.model_name == "other"
        loader.fail_on.add("fake")
        await submit(pilot, "/model fake")
        await ready(pilot)
        assert app.session.model_name == "other"
        assert any("corrupt file" in n for n in notices(app))
        await submit(pilot, "/model nosuch")
        assert "unknown model 'nosuch'" in notices(app)[-1]


async def test_input_is_refused_while_another_model_loads(tmp_path: Path) -> None:
    gate = threading.Event()

    class SlowSecondLoad(ScriptedLoader):
        def __call__(self, name, model):  # type: ignore[no-untyped-def]
            if self.engines:
                gate.wait(10)
            return super().__call__(name, model)

    app = make_app(tmp_path, fake_config(tmp_path), SlowSecondLoad())
    async with app.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, "/model other")
        assert app.loading and "loading other" in status_text(app)
        await submit(pilot, "hello")
        await submit(pilot, "/clear")  # not even commands: the engine is being swapped
        assert app.query_one(PromptInput).text == "/clear"
        gate.set()
        await ready(pilot)
        await wait_until(pilot, lambda: not app.loading)
        assert app.session is not None and app.session.conversation.turns == []
        assert app.session.model_name == "other"


async def test_input_typed_while_loading_is_kept(tmp_path: Path) -> None:
    gate = threading.Event()

    class SlowLoader(ScriptedLoader):
        def __call__(self, name, model):  # type: ignore[no-untyped-def]
            gate.wait(10)
            return super().__call__(name, model)

    app = make_app(tmp_path, fake_config(tmp_path), SlowLoader())
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "loading model" in status_text(app)
        assert "?/2048" in status_text(app)  # the window asked for, its use not known yet (it said "0/1")
        await submit(pilot, "early bird")
        assert app.query_one(PromptInput).text == "early bird"
        gate.set()
        await ready(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(replies(app)) and not app.generating)
        assert replies(app)[0].text == "You said: early bird"


async def test_history_recall_with_up_and_down(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, "/temp 0.2")
        await submit(pilot, "/temp 0.4")
        prompt = app.query_one(PromptInput)
        await pilot.press("up")
        assert prompt.text == "/temp 0.4"
        await pilot.press("up")
        assert prompt.text == "/temp 0.2"
        await pilot.press("down", "down")
        assert prompt.text == ""
        await submit(pilot, "/temp 0.4")  # a repeat is kept once
    inputs = tmp_path / "data" / "inputs.jsonl"
    assert inputs.stat().st_mode & 0o777 == 0o600
    app = make_app(tmp_path, fake_config(tmp_path))  # the next run recalls them
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("up", "up")
        assert app.query_one(PromptInput).text == "/temp 0.2"
        await pilot.press("up")  # the oldest stays
        assert app.query_one(PromptInput).text == "/temp 0.2"
    inputs.write_text('"kept"\n{not json\n"line one\\nline two"\n')  # a damaged line is skipped
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        assert app.query_one(PromptInput).inputs == ["kept", "line one\nline two"]


async def test_newline_keys_and_tab_completion(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        prompt = app.query_one(PromptInput)
        await pilot.press("a", "ctrl+j", "b")
        assert prompt.text == "a\nb"
        prompt.clear()
        await pilot.press("/", "p", "a", "r")
        await pilot.pause()
        assert "/params" in str(app.query_one("#suggestion").render())
        await pilot.press("tab")
        assert prompt.text == "/params "
        prompt.clear()
        await pilot.press("/", "c", "o")  # several commands begin so: Tab goes through them
        await pilot.pause()
        matches = [f"/{name}" for name in COMMANDS if name.startswith("co")]
        hint = str(app.query_one("#suggestion").render())
        assert len(matches) > 2 and all(m in hint for m in matches)
        seen = []
        for _ in range(len(matches) + 1):
            await pilot.press("tab")
            await pilot.pause()
            seen.append(prompt.text)
        assert seen == [m + " " for m in [*matches, matches[0]]]
        await pilot.press("x")  # typing starts afresh
        await pilot.pause()
        assert app.query_one(PromptInput).slash_suggestion is None


async def test_theme_choice_persists(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, "/theme nord")
        assert app.theme == "nord"
        await submit(pilot, "/theme nosuch")
        assert "unknown theme" in notices(app)[-1]
    assert json.loads((tmp_path / "tui.json").read_text())["theme"] == "nord"
    again = make_app(tmp_path, fake_config(tmp_path))
    async with again.run_test() as pilot:
        await pilot.pause()
        assert again.theme == "nord"


async def test_quitting_mid_reply_keeps_the_turn_in_the_autosave(tmp_path: Path) -> None:
    loader = ScriptedLoader()
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        loader.engines[0].token_delay = 0.05
        loader.engines[0].enqueue("One two three four five six seven eight nine ten. " * 10)
        await submit(pilot, "count slowly")
        await wait_until(pilot, lambda: bool(replies(app)) and len(replies(app)[0].text) > 0)
        await pilot.press("ctrl+q")
    saved = json.loads(app.autosave_path.read_text())
    (turn,) = saved["conversation"]["turns"]
    assert turn["user"] == "count slowly" and turn["reply"]["finish_reason"] == "cancelled"


async def test_autosave_and_load_resume(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, "remember this")
        await wait_until(pilot, lambda: not app.generating and app.autosave_path.exists())
        saved = app.autosave_path
    transcript = next((tmp_path / "data" / "transcripts").glob("*.jsonl"))
    kinds = [json.loads(line)["type"] for line in transcript.read_text().splitlines()]
    assert kinds == ["session", "user", "turn"]
    resumed = make_app(tmp_path, fake_config(tmp_path))
    async with resumed.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, f"/load {saved}")
        views = list(resumed.query(MessageView))
        assert [v.text for v in views] == ["remember this", "You said: remember this"]


async def test_help_context_and_keys_screens(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await submit(pilot, "/help")
        assert "/max_tokens VALUE" in screen_text(app)
        await pilot.press("escape")
        await submit(pilot, "/context")
        assert "reserved for the reply" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("f1")
        assert "recall earlier inputs" in screen_text(app)
        await pilot.press("escape")
        assert app.screen.id == "_default"


async def test_palette_lists_every_slash_command(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {c.usage for c in COMMANDS.values()} <= titles


async def test_moderation_notices_sit_above_the_reply_and_guard_notices_below(tmp_path: Path) -> None:
    reply = "Fine. You are a worthless idiot. I've booked a table for two. Anything else?"
    app = make_app(tmp_path, moderated_config(tmp_path, 'backend = "offline"'), ScriptedLoader(reply))
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await submit(pilot, "hi")
        await wait_until(pilot, lambda: bool(replies(app)) and not app.generating)
        view = replies(app)[0]
        order = [type(child).__name__ for child in view.children]
        assert order == [
            "Static",
            "NoticeView",
            "Collapsible",
            "ReplyBody",
            "NoticeView",
        ]  # role, above, (thinking), body, below
        above, below = (str(n.render()) for n in view.query(NoticeView))
        assert above.startswith("moderation: removed: toxicity") and "Parley cannot make bookings" in below
        assert view.text == "Fine. ⟦removed: toxicity⟧ I've booked a table for two. Anything else?"
        text = screen_text(app)
        assert "⟦removed: toxicity⟧" in text and "`" not in text  # shown as inline code, not as backticks
        assert app.session is not None
        await app.chat.show(app.session.conversation)  # drawn again, as /branch, /open and F2 draw it
        await pilot.pause()
        view = replies(app)[0]
        assert [type(child).__name__ for child in view.children] == order
        assert [str(n.render()) for n in view.query(NoticeView)] == [above, below]


async def test_an_autosave_that_cannot_be_written_is_a_notice(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    (tmp_path / "data" / "conversations").write_text("a file where the folder should be")
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        assert any(n.startswith("autosave failed") for n in notices(app))
        await send(pilot, "still here")
        assert [m.text for m in replies(app)] == ["You said: hello", "You said: still here"]
    assert not app.return_code  # it never crashed


def test_a_crash_exits_non_zero_and_says_where_the_conversation_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from textual.app import App

    from chat import cli

    def crash(self: ParleyApp) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ParleyApp, "on_mount", crash)
    monkeypatch.setattr(ParleyApp, "run", lambda self: App.run(self, headless=True))
    monkeypatch.setattr(cli, "load_engine", ScriptedLoader())
    for stream in ("sys.stdin", "sys.stdout"):
        monkeypatch.setattr(f"{stream}.isatty", lambda: True)
    code = cli.main(["--config", str(fake_config(tmp_path).origin), "chat"])
    assert code == 1
    assert "the chat ended with an error; no turn had finished, so none was lost" in capsys.readouterr().err


async def test_the_chat_is_saved_in_the_history_and_a_damaged_one_is_said_in_the_status_bar(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "keep this in the history")
    (entry,) = History(tmp_path / "data" / "history.db").entries()
    assert entry.title == "keep this in the history" and entry.turns == 1
    (tmp_path / "data" / "history.db").write_bytes(b"damaged" * 100)
    broken = make_app(tmp_path, fake_config(tmp_path))
    async with broken.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, "still answered")
        await wait_until(pilot, lambda: not broken.generating and len(replies(broken)) == 1)
        assert "history off" in str(broken.query_one(StatusBar).render())
        assert any("not saved in the history" in str(n.render()) for n in broken.query(NoticeView))


async def test_past_conversations_are_listed_searched_opened_and_deleted(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        for message in ("bread rolls please", "/clear", "tell me about rivers"):
            await send(pilot, message)
        await send(pilot, "/title Rivers")
        await pilot.press("f2")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        listing = screen.query_one(OptionList)
        assert [str(listing.get_option_at_index(i).prompt).split("  ")[-1] for i in range(2)] == [
            "Rivers", "bread rolls please"]  # fmt: skip
        assert "1 turn  Rivers" in str(listing.get_option_at_index(0).prompt)
        await pilot.press(*"bread")  # search as you type
        await wait_until(pilot, lambda: listing.option_count == 1)
        assert "[bread]" in str(listing.get_option_at_index(0).prompt)
        await pilot.press("enter")  # opens the first match
        await wait_until(pilot, lambda: not isinstance(app.screen, HistoryScreen) and not app.generating)
        assert [v.text for v in app.query(MessageView)] == ["bread rolls please", "You said: bread rolls please"]
        await submit(pilot, "and butter")  # goes on in the same conversation
        await wait_until(pilot, lambda: not app.generating)
        (entry,) = History(tmp_path / "data" / "history.db").search("butter")
        assert entry.title == "bread rolls please" and entry.turns == 2
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        listing = app.screen.query_one(OptionList)
        assert listing.highlighted == 0  # a row is chosen from the start (Delete did nothing before one was)
        await pilot.press("down")  # from the search box into the list
        assert listing.has_focus and listing.highlighted == 0
        await pilot.press("down")  # the second one: "Rivers"
        assert listing.highlighted == 1
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause(ConfirmScreen.GRACE_S)
        await pilot.press("tab", "enter")  # Yes
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert [e.title for e in History(tmp_path / "data" / "history.db").entries()] == ["bread rolls please"]
        await pilot.press("ctrl+n")  # a new chat
        await wait_until(pilot, lambda: not isinstance(app.screen, HistoryScreen) and not app.generating)
        assert not list(app.query(MessageView))


async def test_page_keys_scroll_the_conversation_while_typing(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        for number in range(6):
            await send(pilot, f"message {number}")
        await pilot.press(*"half typed")
        bottom = app.chat.scroll_y
        assert bottom == app.chat.max_scroll_y > 0
        await pilot.press("pageup")
        await wait_until(pilot, lambda: app.chat.scroll_y < bottom)
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: app.chat.scroll_y == bottom)
        prompt = app.query_one(PromptInput)
        assert prompt.has_focus and prompt.text == "half typed"


async def test_a_notification_never_covers_the_input(tmp_path: Path) -> None:
    from textual.widgets._toast import Toast

    loader = ScriptedLoader(ScriptedReply(content="slow " * 40, delay_s=0.05))
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await ready(pilot)
        await submit(pilot, "first")
        await pilot.press(*"second", "enter")  # while the reply streams: "wait for it"
        await wait_until(pilot, lambda: bool(app.screen.query(Toast)))
        prompt = app.query_one(PromptInput)
        assert prompt.text == "second"  # kept
        for toast in app.screen.query(Toast):
            assert not toast.region.overlaps(prompt.region), (toast.region, prompt.region)
        await wait_until(pilot, lambda: not app.generating)


async def test_ctrl_n_starts_a_new_chat_from_the_main_screen(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "bread rolls please")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: not app.generating and not list(app.query(MessageView)))
        assert app.session is not None and app.session.conversation.turns == []
    assert [e.title for e in History(tmp_path / "data" / "history.db").entries()] == ["bread rolls please"]


async def test_a_long_title_takes_one_line_of_the_history(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    title = "a very long title about " + "rivers and lakes and seas " * 6 + "the end"
    async with app.run_test(size=(80, 30)) as pilot:
        await ready(pilot)
        for message in ("hello", f"/title {title}"):
            await send(pilot, message)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.pause()
        listing = app.screen.query_one(OptionList)
        lines = [listing.render_line(y).text.strip(" ▁▔▏▕│") for y in range(listing.size.height)]
        (entry,) = [line for line in lines if "long title" in line]
        assert "1 turn  a very long title" in entry and entry.endswith("…")
        assert not any("the end" in line for line in lines)  # cut, not wrapped onto a second line


async def test_copy_puts_a_reply_or_a_code_block_on_the_clipboard(tmp_path: Path) -> None:
    loader = ScriptedLoader("Run this:\n\n```bash\nls -la\n```\n\nthen this:\n\n```\npwd\n```", "Second reply.")
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign,assignment]  # the OSC 52 call, observed
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        for line in ("show me", "again", "/copy", "/copy 1", "/copy code 2", "/copy code 3"):
            await send(pilot, line)
        assert copied == ["Second reply.", loader.replies[0], "pwd\n"]  # the last /copy failed
        assert "no code block 3" in str(list(app.query(NoticeView))[-1].render())
        first_reply = replies(app)[0]
        first_reply.focus()  # a click focuses a message; c copies it
        await pilot.press("c")
        assert copied[-1] == first_reply.text


async def test_continue_grows_the_same_reply_on_screen(tmp_path: Path) -> None:
    loader = ScriptedLoader("one two three four five six seven eight nine ten", " and the rest.")
    app = make_app(tmp_path, fake_config(tmp_path, max_tokens=8), loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        cut_notes: list[int] = []
        for line in ("count", "/continue"):
            await send(pilot, line)
            cut_notes.append(sum("cut at max_tokens" in str(n.render()) for n in replies(app)[0].query(NoticeView)))
        (reply,) = replies(app)
        assert reply.text.endswith("and the rest.") and reply.text.startswith("one two")
        assert "stopped" not in reply.text
        assert cut_notes == [1, 0]  # the reply was cut, then finished: its old note goes
        assert "continuing" not in screen_text(app)  # the reply is seen going on: no note piles up per /continue


async def test_continue_after_the_conversation_was_drawn_again_keeps_the_start(tmp_path: Path) -> None:
    loader = ScriptedLoader("one two three four five six seven eight nine ten", " and the rest.")
    app = make_app(tmp_path, fake_config(tmp_path, max_tokens=8), loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "count")
        assert app.session is not None
        await app.chat.show(app.session.conversation)  # as /branch, /open or F2 draw it
        await send(pilot, "/continue")
        (reply,) = replies(app)
        assert reply.text.startswith("one two") and reply.text.endswith("and the rest.")
        shown = str(reply.query_one(ReplyBody).source)
        assert shown.startswith("one two") and shown.endswith("and the rest.")  # on screen too, not just the data


async def test_a_reasoning_models_thinking_is_collapsed_apart_and_hidden_with_think_off(tmp_path: Path) -> None:
    loader = ScriptedLoader("<think>The user wants a number.</think>\n\nIt is **4**.")
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "2+2?")
        (reply,) = replies(app)
        box = reply.query_one(Collapsible)
        assert box.collapsed and not box.has_class("-empty") and box.display
        assert str(reply.query_one(".reasoning-text", Static).render()) == "The user wants a number."
        assert reply.query_one(ReplyBody).source == "It is **4**."
        await send(pilot, "/think off")
        assert app.chat.has_class("-hide-reasoning") and not box.display


async def test_edit_a_message_then_switch_between_its_versions(tmp_path: Path) -> None:
    loader = ScriptedLoader("First answer.", "Second answer.")
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "What is a llama?")
        question = [m for m in app.query(MessageView) if m.role == "user"][0]
        question.focus()
        await pilot.press("e")  # the message, as /edit 1 TEXT, in the input to be changed
        prompt = app.query_one(PromptInput)
        assert prompt.text == "/edit 1 What is a llama?" and prompt.has_focus
        prompt.text = "/edit 1 What is an alpaca?"
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: not app.generating and len(replies(app)) == 1 and "Second" in replies(app)[0].text
        )
        edited = [m for m in app.query(MessageView) if m.role == "user"][0]
        assert edited.text == "What is an alpaca?" and edited.versions == "2/2"
        assert "‹2/2›" in str(edited.query_one(".role", Static).render())
        edited.focus()
        await pilot.press("less_than_sign")  # the version before
        await wait_until(pilot, lambda: not app.generating and [m.text for m in app.query(MessageView)][:1] == [
            "What is a llama?"])  # fmt: skip
        assert [m.text for m in app.query(MessageView)] == ["What is a llama?", "First answer."]
        question = [m for m in app.query(MessageView) if m.role == "user"][0]
        assert question.versions == "1/2" and question.has_focus  # so > can follow at once
        await pilot.press("greater_than_sign")
        await wait_until(pilot, lambda: [m.text for m in app.query(MessageView)][:1] == ["What is an alpaca?"])
        assert [m for m in app.query(MessageView) if m.role == "user"][0].has_focus
        app.query_one(PromptInput).focus()
        await submit(pilot, "/branch 1 prev")  # typed: the turn comes into view, the input keeps the focus
        await wait_until(pilot, lambda: [m.text for m in app.query(MessageView)][:1] == ["What is a llama?"])
        assert app.query_one(PromptInput).has_focus


async def test_a_conversation_is_renamed_from_the_list(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "bread rolls please")
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        listing = app.screen.query_one(OptionList)
        await pilot.press("tab")  # to the list (Enter in the search box would open the first entry)
        while listing.highlighted != 0:
            await pilot.press("down")
        await pilot.press("ctrl+r")  # rename it
        await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen))
        await pilot.press(*"Baking", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert "Baking" in str(app.screen.query_one(OptionList).get_option_at_index(0).prompt)
    assert [e.title for e in History(tmp_path / "data" / "history.db").entries()] == ["Baking"]


async def test_attach_shows_the_cost_and_compact_summarises_on_screen(tmp_path: Path) -> None:
    loader = ScriptedLoader("Milk and a bike.", "Noted.", "The user listed milk and a bike to fix.")
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    notes = tmp_path / "notes.txt"
    notes.write_text("buy milk\nfix the bike\n")
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await send(pilot, f"/file {notes}")
        said = str(list(app.query(NoticeView))[-1].render())
        assert said.startswith("attached notes.txt: ") and "tokens" in said
        for line in ("What is on my list?", "thanks", "/compact 1"):
            await send(pilot, line)
        first = [m for m in app.query(MessageView) if m.role == "user"][0]
        assert "fix the bike" in first.text and first.has_class("-out-of-context")  # sent with it; now summarised
        assert "summarised: The user listed milk" in str(list(app.query(NoticeView))[-1].render())


async def test_tokens_are_shaded_apart_in_the_tui(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, "/tokens one two")
        await wait_until(pilot, lambda: bool(app.query(".-tokens")))
        shown = app.query_one(".-tokens", Static).render()
        assert isinstance(shown, Content) and shown.plain.startswith("3 tokens\none␣two\nids: ")
        shades = [
            span.style.background for span in shown.spans if isinstance(span.style, Style) and span.style.background
        ]
        assert len(shades) == 3 and shades[0] == shades[2] != shades[1]  # each token apart from its neighbours


async def test_probs_is_a_chart_in_the_tui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chat.engine import Candidate, NextToken, Stage
    from chat.scripted_engine import ScriptedEngine

    top = (Candidate(1, " cat", 0.75), Candidate(2, " dog", 0.25))
    found = NextToken(1, (Stage("logits", "raw", 49152, top), Stage("temperature", "temperature 0.7", 2, top)),
                      Candidate(1, " cat", 0.5))  # fmt: skip
    monkeypatch.setattr(ScriptedEngine, "next_token", lambda *args: found)
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await submit(pilot, "/probs 1")
        await wait_until(pilot, lambda: bool(app.query(".-probs")))
        shown = app.query_one(".-probs", Static).render()
        assert isinstance(shown, Content)
        assert 'token 1 of the last reply (it has "␣cat", 50.00% raw)' in shown.plain
        assert "75.00% " + "█" * 30 + ' "␣cat"' in shown.plain and "temperature" in shown.plain
        assert not [n for n in app.query(NoticeView) if "/probs" in str(n.render())]  # the chart, not text too


async def test_compare_shows_the_replies_side_by_side(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path), ScriptedLoader("Hello.", "Cold **reply**.", "Warm reply."))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hi")
        await submit(pilot, "/compare temp=0.2 temp=1.2")
        await wait_until(pilot, lambda: bool(app.query(".compared-reply")) and not app.generating)
        columns = list(app.query(".compared-reply"))
        assert len(columns) == 2 and columns[0].region.y == columns[1].region.y  # side by side
        assert columns[0].region.x < columns[1].region.x
        labels = [str(c.query_one(".role", Static).render()) for c in columns]
        seed = app.session.params.seed if app.session and app.session.params.seed is not None else None
        assert [label.split("  (seed ")[0] for label in labels] == ["temp=0.2", "temp=1.2"]
        assert labels[0].split("(seed ")[1] == labels[1].split("(seed ")[1] and seed is None  # one random seed
        assert len([m for m in app.query(MessageView) if m.role == "assistant"]) == 1  # not added to the chat


async def test_the_context_meter_marks_estimates_and_counts_it_cannot_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loader = ScriptedLoader()
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        engine = loader.engines[0]
        exact = engine.info
        assert re.search(r" \d+/2048 ", status_text(app))
        monkeypatch.setattr(ScriptedEngine, "info", property(lambda self: replace(exact, counts="approximate")))
        app.refresh_status()
        assert re.search(r" ~\d+/2048 ", status_text(app))

        def unreachable(*args: object, **kwargs: object) -> int:
            raise ParleyError("server http://127.0.0.1:9/v1: connection refused (is the server running?)")

        monkeypatch.setattr(engine, "count_tokens", unreachable)
        app.refresh_status()  # a server that is down: no count, and no crash
        assert " ?/2048 " in status_text(app)


async def test_after_a_failed_first_load_model_tries_again(tmp_path: Path) -> None:
    # The server was down (or the file missing) when the TUI started: the chat is not stuck.
    loader = ScriptedLoader()
    loader.fail_on.add("fake")
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.idle.is_set() and not app.loading)
        assert app.session is None
        assert "/model [NAME] tries again" in notices(app)[-1]
        await submit(pilot, "hello")  # kept, with the way out
        assert app.query_one(PromptInput).text == "hello"
        loader.fail_on.clear()  # the server is back
        await submit(pilot, "/model")
        await ready(pilot)
        assert app.session is not None and app.session.model_name == "fake"
        await submit(pilot, "/model other")
        await ready(pilot)
        loader.fail_on.add("fake")
        await submit(pilot, "/model fake")
        await ready(pilot)
        assert "still using other" in notices(app)[-1]


async def test_sending_while_scrolled_up_brings_the_new_turn_into_view(tmp_path: Path) -> None:
    loader = ScriptedLoader(*[f"Reply {i}. " + "Long line of text. " * 30 for i in range(6)])
    app = make_app(tmp_path, fake_config(tmp_path), loader)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        for i in range(4):
            await send(pilot, f"message {i}")
        app.chat.scroll_home(animate=False)  # the user scrolls up to read
        await pilot.pause()
        assert app.chat.scroll_y == 0
        await send(pilot, "one more")
        await pilot.pause(0.2)
        assert app.chat.scroll_y == app.chat.max_scroll_y > 0  # the new turn is in view


async def test_typing_after_a_click_elsewhere_goes_to_the_input(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path), ScriptedLoader("A reply."))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        replies(app)[0].focus()  # a click on the reply
        await pilot.press("h", "i")  # not keys of a message's own
        prompt = app.query_one(PromptInput)
        assert prompt.has_focus and prompt.text == "hi"
        app.chat.focus()  # a click on the conversation around the messages
        await pilot.press("!")
        assert prompt.has_focus and prompt.text == "hi!"


async def test_a_long_context_panel_scrolls_to_its_totals(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path), ScriptedLoader(*[f"Reply {i}." for i in range(30)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        for i in range(30):
            await send(pilot, f"message {i}")
        await submit(pilot, "/context")
        await pilot.pause(0.2)
        table = app.screen.query_one(VerticalScroll)
        hint = app.screen.query_one("#panel-hint", Static)
        # The table's scroll area fits in the panel, above its hint, and the hint on the screen.
        assert table.region.bottom <= hint.region.y and hint.region.bottom <= 24 and table.max_scroll_y > 0
        await pilot.press("end")  # the keys scroll it: the totals at the end come into view
        await pilot.pause(0.2)
        assert table.scroll_y == table.max_scroll_y


async def test_the_status_bar_stays_one_line_leaving_out_the_least_important_parts(tmp_path: Path) -> None:
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test(size=(64, 24)) as pilot:
        await ready(pilot)
        await submit(pilot, "hello")
        await wait_until(pilot, lambda: app.idle.is_set() and not app.generating)
        status = status_text(app)
        assert len(status) <= 64 and "/2048" in status and "tok/s" in status
        assert "guard" not in status and "temp" not in status  # the details and the sampling go first
        await submit(pilot, "/moderation off")
        assert "mod: OFF" in status_text(app)  # never left out
        await pilot.resize_terminal(160, 24)
        await pilot.pause()
        status = status_text(app)
        assert "temp" in status and "guard: 0 actions" in status and "mod: OFF" in status and len(status) <= 160


async def test_a_fault_of_parleys_own_saves_the_conversation_and_ends_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the pipeline (once: the claim grammar on a reply cut at "I'll make sure to") ended
    the TUI with Textual's traceback and lost the turn in flight."""
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "first")

        def broken(*args: object) -> None:
            raise IndexError("list index out of range")

        monkeypatch.setattr("chat.pipeline.Pipeline._finish", broken)
        await submit(pilot, "second")
        await wait_until(pilot, lambda: app.fault is not None)
    assert app.return_code == 1 and app.fault is not None
    error, report = app.fault
    assert isinstance(error, IndexError) and report is not None and report.parent == tmp_path / "data"
    assert "Traceback" in report.read_text() and report.stat().st_mode & 0o777 == 0o600
    saved = json.loads(app.autosave_path.read_text())
    assert [t["user"] for t in saved["conversation"]["turns"]] == ["first", "second"]  # the turn in flight too


async def test_with_the_history_off_the_tui_keeps_nothing_of_the_conversation(tmp_path: Path) -> None:
    """--no-history once still wrote a transcript and an autosave of every conversation (what
    was typed, for Up in the next run, was already left out)."""
    app = make_app(tmp_path, fake_config(tmp_path), history=False)
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "/temp 0.2")
        await send(pilot, "a secret")
        assert [m.text for m in replies(app)] == ["You said: a secret"]
    kept = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert kept == [] and not app.return_code


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        ("Visit https://x.example now.", "Visit https://x.example now."),  # was "... (https://x.example) ..."
        ("<https://x.example>", "<https://x.example>"),
        ("See [the docs](https://x.example).", "See the docs (https://x.example)."),  # the real target, visible
    ],
)
def test_an_address_in_a_reply_is_shown_once(reply: str, shown: str) -> None:
    from rich.console import Console

    from chat.tui.conversation import LiteralMarkdown

    console = Console(width=80, color_system=None)
    with console.capture() as captured:
        console.print(LiteralMarkdown(reply))
    assert captured.get().strip() == shown


async def test_retry_and_undo_leave_what_commands_said_on_screen(tmp_path: Path) -> None:
    """A new user saw /retry wipe every command's output from the conversation view."""
    app = make_app(tmp_path, fake_config(tmp_path), ScriptedLoader("first", "second", "third"))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await send(pilot, "/temp 0.5")
        await send(pilot, "/retry")
        assert [m.text for m in replies(app)] == ["second"]
        assert any("temperature = 0.5" in n for n in notices(app)) and any("retrying" in n for n in notices(app))
        await send(pilot, "/undo")
        assert replies(app) == [] and any("temperature = 0.5" in n for n in notices(app))


async def test_a_message_typed_while_a_command_runs_is_sent_next(tmp_path: Path) -> None:
    """A new user typed "/top_k 41", Enter, a message, Enter: the message stayed unsent."""
    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        assert app.pipeline is not None
        gate = threading.Event()
        command = app.pipeline.command

        def slow_command(line: str, cancel: threading.Event | None = None) -> bool:
            gate.wait(10)
            return command(line, cancel)

        app.pipeline.command = slow_command  # type: ignore[method-assign]
        await submit(pilot, "/temp 0.5")
        await submit(pilot, "hello")  # the command still runs
        assert app.query_one(PromptInput).text == "" and app.queued == "hello"
        gate.set()
        await wait_until(pilot, lambda: [m.text for m in replies(app)] == ["You said: hello"] and not app.generating)
        assert app.session is not None and app.session.params.temperature == 0.5


async def test_keys_typed_right_after_enter_go_to_the_next_message(tmp_path: Path) -> None:
    """Typed fast, "/temp 0.2", Enter, "hello" ran "/temp 0.2hello": the input was emptied only
    when the app read the message, after the next keys had landed in it."""
    from textual import events

    app = make_app(tmp_path, fake_config(tmp_path))
    async with app.run_test() as pilot:
        await ready(pilot)
        prompt = app.query_one(PromptInput)
        prompt.load_text("/temp 0.2")
        await prompt._on_key(events.Key("enter", None))  # the message is posted, not read yet
        prompt.insert("hello")  # typed before the app reads it
        await wait_until(pilot, lambda: app.session is not None and app.session.params.temperature == 0.2)
        await wait_until(pilot, lambda: not app.generating)
        assert prompt.text == "hello"
