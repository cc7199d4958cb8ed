"""The Textual app: a streaming conversation, the prompt, the status bar, and the screens.

Generation and model loading run in thread workers; every UI change from them goes through
`call_from_thread`. Messages sent while a reply is generating are refused (the text stays in the
input), so the conversation never interleaves. Every event goes to the transcript and the
conversation is autosaved after each turn, so quitting never loses a turn.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path

import platformdirs
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from chat import commands, events
from chat import conversation as conv_file
from chat.config import APP_NAME, Config
from chat.errors import ParleyError, did_you_mean
from chat.runner import guard_notes, moderation_notes
from chat.session import EngineLoader, Session, TurnResult
from chat.transcript import Transcript
from chat.tui import settings
from chat.tui.screens import ConfirmScreen, context_screen, help_screen, keys_screen
from chat.tui.widgets import MessageView, Notice, PromptInput, Severity, StatusBar, literal

SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005

# Commands the TUI answers itself, with a screen or a worker, instead of a line of text.
TUI_COMMANDS = {"help", "context", "quit", "theme", "model"}


class ParleyApp(App[None]):
    CSS_PATH = "parley.tcss"
    TITLE = "Parley"
    BINDINGS = [
        Binding("escape", "stop", "Stop reply"),
        Binding("f1", "keys", "Keys"),
        Binding("question_mark", "keys", "Keys", show=False),
        Binding("ctrl+q", "quit", "Quit"),
    ]

    def __init__(
        self,
        config: Config,
        loader: EngineLoader,
        model: str | None = None,
        setup: Callable[[Session], None] | None = None,
        transcript_path: Path | None = None,
        data_dir: Path | None = None,
        settings_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.loader = loader
        self.model_arg = model
        self.setup = setup
        self.session: Session | None = None
        self.generating = False
        self.loading = False  # a model is being loaded; nothing may use the engine meanwhile
        self.cancel = threading.Event()
        self.idle = threading.Event()  # set when no worker touches the engine
        self.idle.set()
        self.last_speed = ""
        self.data_dir = data_dir or Path(platformdirs.user_data_dir(APP_NAME))
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.autosave_path = self.data_dir / "conversations" / f"autosave-{stamp}.json"
        self.transcript = Transcript(transcript_path or self.data_dir / "transcripts" / f"{stamp}.jsonl")
        self.settings_file = settings_file or settings.settings_path()

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="conversation")
        yield Static(id="suggestion")
        yield PromptInput(id="prompt", placeholder="Message (Enter sends, /help lists commands)")
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        # The UI thread and the generation thread share the GIL; a short switch interval lets
        # the generator take it back quickly after each token (bench/tui_stream.py measures it).
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        theme = settings.load(self.settings_file).get("theme")
        if theme in self.available_themes:
            self.theme = theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.query_one("#conversation", VerticalScroll).anchor()
        self.query_one(PromptInput).focus()
        self.start_loading(None, "loading model…")

    def _remember_theme(self, _theme: object) -> None:
        saved = settings.load(self.settings_file)
        saved["theme"] = self.theme
        settings.save(self.settings_file, saved)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for command in commands.COMMANDS.values():
            yield SystemCommand(command.usage, command.help, lambda c=command: self._palette(c.name, c.usage))

    def _palette(self, name: str, usage: str) -> None:
        """Run an argument-less command at once; put the others in the input to complete."""
        if usage == f"/{name}":
            if self.may_send():
                self.run_worker(self.run_command(f"/{name}"))
        else:
            prompt = self.query_one(PromptInput)
            prompt.load_text(f"/{name} ")
            prompt.move_cursor(prompt.document.end)
            prompt.focus()

    # --- status and notices ---------------------------------------------------------------

    def refresh_status(self, state: str = "") -> None:
        bar = self.query_one(StatusBar)
        if self.session is None:
            bar.show(self.model_arg or self.config.default, 0, 1, "", state=state)
            return
        session = self.session
        used = session.context_used()  # the status bar refreshes often: skip the per-turn report
        moderation = f"mod: {session.moderator.backend_name}" if session.moderator.enabled else "mod: OFF"
        moderation += f" · guard: {len(session.registry.actions)} actions"
        bar.show(
            session.model_name, used, session.engine.info.n_ctx, session.params.short(),
            f"{self.last_speed}  {moderation}".strip(), state,
        )  # fmt: skip

    def show_notice(self, text: str, severity: Severity = "information") -> None:
        self.query_one("#conversation").mount(Notice(text, severity))

    def on_prompt_input_suggestion_changed(self, message: PromptInput.SuggestionChanged) -> None:
        hint = ""
        if message.suggestion:
            command = commands.COMMANDS[message.suggestion[1:]]
            hint = f"{command.usage}  {command.help}  (Tab completes)"
        self.query_one("#suggestion", Static).update(literal(hint))

    # --- model loading --------------------------------------------------------------------

    def start_loading(self, name: str | None, state: str) -> None:
        self.loading = True
        self.refresh_status(state)
        self.load_model(name)

    def _loaded(self) -> None:
        self.loading = False
        self.refresh_status()

    @work(thread=True, exclusive=True, group="model")
    def load_model(self, name: str | None) -> None:
        self.idle.clear()
        try:
            if self.session is None:
                session = Session(self.config, self.loader, self.model_arg)
                session.moderator.load()  # now, not on the first reply
                if session.moderator.note:
                    self._ui(self.show_notice, session.moderator.note, "warning")
                if self.setup:
                    self.setup(session)
                self.session = session
                self._ui(self.transcript.write, events.session_start(session))
            else:
                self.session.switch_model(name or "")
                self._ui(self.show_notice, f"model: {self.session.model_name}")
        except Exception as err:  # a load failure is a notice; the old model (if any) stays
            self._ui(self._load_failed, str(err))
        finally:
            self.idle.set()
            self._ui(self._loaded)

    def _ui(self, callback: Callable[..., object], *args: object) -> None:
        """Run `callback` on the UI thread and wait for it (from a worker thread)."""
        self.call_from_thread(callback, *args)

    def _load_failed(self, message: str) -> None:
        self.notify(message, title="Model not loaded", severity="error", timeout=10)
        self.show_notice(f"error: {message}", "error")

    # --- input ----------------------------------------------------------------------------

    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        text = message.text.strip()
        if not text or not self.may_send():
            return
        prompt = self.query_one(PromptInput)
        prompt.remember(text)
        prompt.clear()
        if commands.is_command(text):
            await self.run_command(text)
        else:
            await self.send_message(text)

    async def send_message(self, text: str) -> None:
        """Input moderation first: a flagged message is sent only if the user confirms it."""
        assert self.session is not None
        verdict = self.session.check_input(text)
        if verdict is None:
            await self.start_generation(text)
            return
        details = f"{verdict.scores_text()}\n\n{text}\n\nSend it to the model anyway?"
        self.push_screen(ConfirmScreen("Moderation flagged your message", details), partial(self._flagged, text))

    async def _flagged(self, text: str, send: bool | None) -> None:
        if send:
            await self.start_generation(text)
        else:
            self.query_one(PromptInput).load_text(text)
            self.show_notice("message not sent (flagged by moderation); it is back in the input", "warning")

    def may_send(self) -> bool:
        """Whether input can run now; if not, say why (the input keeps its text)."""
        if self.generating:
            self.notify("A reply is being generated: wait for it, or press Escape to stop it.", severity="warning")
            return False
        if self.session is None or self.loading:
            self.notify("A model is loading; your message is kept.", severity="warning")
            return False
        return True

    async def run_command(self, line: str) -> None:
        session = self.session
        if session is None:
            return
        name, _, arg = line.removeprefix("/").partition(" ")
        arg = arg.strip()
        if name in TUI_COMMANDS and await self._tui_command(name, arg):
            return
        try:
            outcome = commands.execute(session, line)
        except ParleyError as err:
            self.transcript.write(events.command(line, str(err), ok=False))
            self.show_notice(f"error: {err}", "error")
            return
        self.transcript.write(events.command(line, outcome.text, ok=True))
        if name in ("clear", "load", "undo", "retry"):
            await self.rebuild_conversation()
        if outcome.text:
            self.show_notice(outcome.text)
        self.refresh_status()
        if outcome.quit:
            await self.action_quit()
        elif outcome.generate is not None:
            await self.start_generation(outcome.generate, outcome.force_action)

    async def _tui_command(self, name: str, arg: str) -> bool:
        """Handle the commands with a TUI form; False lets the shared command layer answer."""
        assert self.session is not None
        if name == "help" and not arg:
            await self.push_screen(help_screen())
        elif name == "context":
            await self.push_screen(context_screen(self.session.context_report()))
        elif name == "quit":
            await self.action_quit()
        elif name == "theme":
            self._theme_command(arg)
        elif name == "model" and arg:
            try:
                self.config.model(arg)
            except ParleyError as err:
                self.show_notice(f"error: {err}", "error")
            else:
                self.start_loading(arg, f"loading {arg}…")
        else:
            return False
        return True

    def _theme_command(self, arg: str) -> None:
        themes = sorted(self.available_themes)
        if not arg:
            self.show_notice(f"theme: {self.theme}; available: {', '.join(themes)}")
        elif arg not in self.available_themes:
            self.show_notice(f"error: unknown theme '{arg}'{did_you_mean(arg, themes)}", "error")
        else:
            self.theme = arg
            self.show_notice(f"theme: {arg}")

    async def rebuild_conversation(self) -> None:
        """Show the session's conversation afresh (after /clear, /load, /undo, /retry)."""
        assert self.session is not None
        view = self.query_one("#conversation")
        await view.remove_children()
        for number, turn in enumerate(self.session.conversation.turns, start=1):
            widgets = [MessageView("user", turn.user, number)]
            if turn.reply is not None:
                widgets.append(MessageView("assistant", turn.reply.content, number))
            await view.mount_all(widgets)
            for widget in widgets:
                widget.set_out_of_context(not turn.in_context)
            if turn.reply is not None and turn.reply.finish_reason != "stop":
                widgets[-1].add_notice(_finish_note(turn.reply.finish_reason, turn.reply.params.max_tokens))

    # --- generation -----------------------------------------------------------------------

    async def start_generation(self, text: str, force_action: bool = False) -> None:
        assert self.session is not None
        number = len(self.session.conversation.turns) + 1
        user, reply = MessageView("user", text, number), MessageView("assistant", turn=number)
        await self.query_one("#conversation").mount_all([user, reply])
        self.generating = True
        self.cancel = threading.Event()
        self.refresh_status("generating… (Escape stops)")
        self.generate(text, user, reply, force_action)

    @work(thread=True, exclusive=True, group="generate")
    def generate(self, text: str, user: MessageView, view: MessageView, force_action: bool = False) -> None:
        assert self.session is not None
        self.idle.clear()
        self.transcript.write({"type": "user", "time": events.now(), "content": text})
        try:
            result = self.session.send(text, view.feed, self.cancel, force_action)
        except Exception as err:  # engine failures and overflow become notices; the app goes on
            self._ui(self._generation_failed, text, user, view, str(err))
        else:
            self._ui(self._generation_done, view, result)
        finally:
            self.idle.set()

    async def _generation_done(self, view: MessageView, result: TurnResult) -> None:
        reply = result.turn.reply
        assert reply is not None and self.session is not None
        note = (
            None
            if reply.finish_reason in ("stop", "blocked")
            else _finish_note(reply.finish_reason, reply.params.max_tokens)
        )
        await view.finish(note)
        if reply.finish_reason == "blocked":
            await view.replace(reply.content)
        for text in moderation_notes(reply.moderation):
            view.add_notice(text.strip("[]"), "above", "error" if reply.finish_reason == "blocked" else "warning")
        for widget in self.query(MessageView):
            if widget.turn in result.dropped:
                widget.set_out_of_context(True)
        if result.dropped:
            self.show_notice(f"context full: turn(s) {', '.join(map(str, result.dropped))} moved out of context")
        timing = events.turn(result)["timing"]
        rate = f"{timing['tokens_per_s']:.0f} tok/s, " if timing["tokens_per_s"] else ""
        self.last_speed = f"{rate}TTFT {reply.ttft_s:.2f}s" if reply.ttft_s is not None else rate
        self.ask_actions(view, result)

    def ask_actions(self, view: MessageView, result: TurnResult) -> None:
        """Ask about each action the reply requested, one modal at a time (default No)."""
        assert self.session is not None
        if not self.session.pending:
            self.run_worker(self._turn_complete(view, result))
            return
        request = self.session.pending[0]
        title = f"The assistant asks to run {request.action.name} ({request.action.risk})"
        self.push_screen(ConfirmScreen(title, request.describe()), partial(self._action_answered, view, result))

    async def _action_answered(self, view: MessageView, result: TurnResult, answer: bool | None) -> None:
        assert self.session is not None
        record = self.session.decide(bool(answer))  # only a person's answer in the modal gets here
        self.transcript.write(events.action(record))
        view.add_notice(record.summary(), "below", "information" if record.ok else "warning")
        self.ask_actions(view, result)

    async def _turn_complete(self, view: MessageView, result: TurnResult) -> None:
        assert self.session is not None
        reply = result.turn.reply
        assert reply is not None
        for text in guard_notes(reply.guard):
            view.add_notice(text.strip("[]"), "below", "warning")
        if self.session.config.actions.claims == "redact" and reply.guard and reply.guard.get("claims"):
            await view.replace(reply.content)
        self.transcript.write(events.turn(result))
        conv_file.save(self.autosave_path, self.session.conversation, self.session.model_name, self.session.params)
        self.generating = False
        self.refresh_status()

    async def _generation_failed(self, text: str, user: MessageView, view: MessageView, message: str) -> None:
        self.transcript.write(events.error(message))
        assert self.session is not None
        if len(self.session.conversation.turns) >= (user.turn or 0):  # recorded, with its partial reply
            await view.finish(_finish_note("error", 0))
        else:  # refused before generating (e.g. too long): give the text back to edit
            await user.remove()
            await view.remove()
            prompt = self.query_one(PromptInput)
            if not prompt.text:
                prompt.load_text(text)
        self.show_notice(f"error: {message}", "error")
        self.notify(message, title="Generation failed", severity="error")
        self.generating = False
        self.refresh_status()

    # --- actions --------------------------------------------------------------------------

    def action_stop(self) -> None:
        if self.generating:
            self.cancel.set()

    def action_keys(self) -> None:
        self.push_screen(keys_screen())

    async def confirm(self, title: str, details: str) -> bool:
        """Ask the user Yes/No in a modal (default No). For use from the app's own tasks."""
        screen: ConfirmScreen = ConfirmScreen(title, details)
        answer: bool = await self.push_screen_wait(screen)
        return answer

    async def action_quit(self) -> None:
        self.cancel.set()
        self.exit()

    def on_unmount(self) -> None:
        # A worker may still be inside llama.cpp: stop it and wait before freeing the model.
        self.cancel.set()
        self.idle.wait(timeout=60)
        if self.session is not None:
            self.session.close()
        self.transcript.close()
        sys.setswitchinterval(self._switch_interval)


def _finish_note(reason: str, max_tokens: int) -> str:
    if reason == "cancelled":
        return "stopped"
    if reason == "length":
        return f"cut at max_tokens = {max_tokens}"
    return "the reply failed part-way"
