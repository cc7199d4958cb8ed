"""The Textual app: the conversation view, the prompt, the status bar, and the screens.

What the user enters runs through the turn pipeline in a thread worker; the app renders the
pipeline's events (every UI change from the worker goes through `call_from_thread`) and answers
its questions with a Yes/No dialog. Input sent while a turn runs is refused (the text stays in
the input), so the conversation never interleaves. The pipeline writes the transcript and the
conversation is autosaved after each turn, so quitting never loses a turn.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import datetime
from pathlib import Path

import platformdirs
from textual import events, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from chat import commands
from chat import conversation as conv_file
from chat.config import APP_NAME, Config
from chat.errors import ParleyError, did_you_mean
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
    ReplyWithdrawn,
    TextShown,
    TurnDone,
    UserSent,
)
from chat.files import crash_report
from chat.history import History, HistoryError, Recorder, open_history
from chat.pipeline import ApprovalPolicy, Pipeline, Question
from chat.session import EngineLoader, Session
from chat.transcript import Transcript, TranscriptError
from chat.tui import settings
from chat.tui.conversation import ConversationView, MessageView
from chat.tui.screens import ConfirmScreen, HistoryScreen, context_screen, help_screen, keys_screen
from chat.tui.widgets import PromptInput, StatusBar, literal

SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005


FULL_COLLECTION_EVERY = 20  # inputs


def settle_memory(full: bool) -> None:
    """Collect garbage now, between replies, and leave what survives out of later collections.

    A full collection over a Textual app's objects takes up to ~110 ms and holds the GIL, so it
    stalled a streaming reply two or three times each (bench/tui_stream.py). Frozen objects are
    still freed when their last reference goes; a cycle among them (the widgets of turns taken
    off the screen) waits for a `full` settling, which unfreezes them first (every
    FULL_COLLECTION_EVERY inputs: it scans everything, the others only what is new)."""
    if full:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


# Commands the TUI answers itself, with a screen or a worker, instead of a line of text.
TUI_COMMANDS = {"help", "context", "quit", "theme", "model", "history", "tokens"}
# Commands after which the conversation on screen is shown afresh.
REBUILDS = {"clear", "load", "open", "undo", "retry", "edit", "branch"}


class ParleyApp(App[None]):
    CSS_PATH = "parley.tcss"
    TITLE = "Parley"
    BINDINGS = [
        Binding("escape", "stop", "Stop reply"),
        # Ctrl+C stops a reply too, as in llama-cli and ollama; else it does what it did (copy
        # in the input, Textual's hint on how to quit).
        Binding("ctrl+c", "stop_or_pass", show=False, priority=True),
        Binding("f1", "keys", "Keys"),
        Binding("f2", "history", "History"),
        Binding("ctrl+n", "new_chat", "New chat", show=False),
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
        policy: ApprovalPolicy | None = None,
        history: bool = True,
    ) -> None:
        super().__init__()
        self.config = config
        self.policy = policy or ApprovalPolicy("ask", frozenset(config.actions.allow_irreversible))
        self.loader = loader
        self.model_arg = model
        self.setup = setup
        self.pipeline: Pipeline | None = None  # once the first model is loaded
        self.generating = False  # a turn or command runs in the worker
        self.streaming = False  # ...and a reply of it is being shown
        self.queued: str | None = None  # typed while a command ran, before any reply: sent next
        self.switched_by_key = False  # the version switch running came from < or > on a message
        self.loading = False  # a model is being loaded; nothing may use the engine meanwhile
        self.cancel = threading.Event()
        self.closing = threading.Event()  # the app is exiting: workers stop talking to the UI
        self.idle = threading.Event()  # set when no worker touches the engine
        self.idle.set()
        self.last_speed = ""
        self.fault: tuple[Exception, Path | None] | None = None  # a fault of Parley's own, and its report
        self.data_dir = data_dir or Path(platformdirs.user_data_dir(APP_NAME))
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.autosave_path = self.data_dir / "conversations" / f"autosave-{stamp}.json"
        self.history_wanted = history and config.history  # opened with the first model, into the session
        # With the history off nothing of the conversation is kept: no transcript unless asked
        # for with --transcript, no autosave.
        default_transcript = self.data_dir / "transcripts" / f"{stamp}.jsonl" if self.history_wanted else None
        where = transcript_path or default_transcript
        self.transcript = Transcript(where) if where else None
        self.settings_file = settings_file or settings.settings_path()
        self.inputs_file = self.data_dir / "inputs.jsonl"  # what was typed, for Up after a restart
        self.inputs_run = 0  # inputs run (messages and commands): see settle_memory
        self._switch_interval = sys.getswitchinterval()

    @property
    def session(self) -> Session | None:
        return self.pipeline.session if self.pipeline else None

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ConversationView(id="conversation")
        yield Static(id="suggestion")
        yield PromptInput(id="prompt", placeholder="Message (Enter sends, /help lists commands)")
        yield StatusBar(id="status")

    @property
    def chat(self) -> ConversationView:
        return self.query_one(ConversationView)

    def on_key(self, event: events.Key) -> None:
        """A character typed while a message or the conversation has the focus (after a click)
        goes to the input, instead of nowhere; a message's own keys (c, e, < and >) act first."""
        prompt = self.query_one(PromptInput)
        if event.is_printable and event.character and self.screen is prompt.screen and not prompt.has_focus:
            prompt.focus()
            prompt.insert(event.character)
            event.stop()

    def on_mount(self) -> None:
        # The UI thread and the generation thread share the GIL; a short switch interval lets
        # the generator take it back quickly after each token (bench/tui_stream.py measures it).
        sys.setswitchinterval(SWITCH_INTERVAL)
        theme = settings.load(self.settings_file).get("theme")
        if theme in self.available_themes:
            self.theme = theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        prompt = self.query_one(PromptInput)
        if self.history_wanted:
            prompt.inputs = settings.load_inputs(self.inputs_file)
        prompt.focus()
        self.start_loading(None, "loading model…")

    def _remember_theme(self, _theme: object) -> None:
        saved = settings.load(self.settings_file)
        saved["theme"] = self.theme
        settings.save(self.settings_file, saved)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for command in commands.COMMANDS.values():
            yield SystemCommand(command.usage, command.help, lambda c=command: self._palette(c.name, c.usage))

    def _palette(self, name: str, usage: str) -> None:
        """Run an argument-less command at once; put the others in the input to complete."""
        if usage == f"/{name}":
            if self.may_send():
                self.run_worker(self.enter(f"/{name}"))
        else:
            prompt = self.query_one(PromptInput)
            prompt.load_text(f"/{name} ")
            prompt.move_cursor(prompt.document.end)
            prompt.focus()

    # --- status -------------------------------------------------------------------------------

    def refresh_status(self, state: str = "") -> None:
        bar = self.query_one(StatusBar)
        session = self.session
        if session is None:  # loading: the window models.toml asks for, its use not known yet
            name, model = self.config.model(self.model_arg)
            bar.show(name, None, model.n_ctx, "", state=state)
            return
        try:
            used: int | None = session.context_used()  # the status bar refreshes often: not the per-turn report
        except ParleyError:  # a server that cannot count now: the turn that needs the count will say why
            used = None
        device = session.engine.info.device()
        details = [(device, 2)] if device else []
        # Ranked for a narrow status bar: moderation switched off is never left out, and a chat
        # that is not being saved goes before the sampling and the speed.
        details.append((f"mod: {session.moderator.backend_name}", 1) if session.moderator.enabled else ("mod: OFF", 9))
        details.append((f"guard: {len(session.registry.actions)} actions", 0))
        if self.history_wanted and self._history() is None:
            details.append(("history off", 6))
        bar.show(
            session.model_name, used, session.engine.info.n_ctx, session.params.short(), self.last_speed, state,
            session.engine.info.counts == "approximate", details,
        )  # fmt: skip

    def on_prompt_input_suggestion_changed(self, message: PromptInput.SuggestionChanged) -> None:
        hint = ""
        if message.suggestion:
            command = commands.COMMANDS[message.suggestion[1:]]
            also = f"; Tab again: {' '.join(message.others)}" if message.others else ""
            hint = f"{command.usage}  {command.help}  (Tab completes{also})"
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
            if self.pipeline is None:
                session = Session(self.config, self.loader, self.model_arg, history=self._open_history())
                if self.setup:
                    self.setup(session)
                self.pipeline = Pipeline(
                    session, self.render_event, policy=self.policy, ask=self.ask, transcript=self.transcript
                )
                with suppress(TranscriptError):  # shown by its error event; the chat goes on unrecorded
                    self.pipeline.start()
                if session.moderator.note:
                    self._on_ui(self.chat.say, session.moderator.note, "warning")
            else:
                self.pipeline.session.switch_model(name or "")
                self._on_ui(self.chat.say, commands.model_switched(self.pipeline.session))
            self.pipeline.session.warm_up()
        except Exception as err:  # a load failure is a notice; the old model (if any) stays
            self._on_ui(self._load_failed, str(err))
        finally:
            settle_memory(full=False)
            self.idle.set()
            self._on_ui(self._loaded)

    def _open_history(self) -> Recorder | None:
        """The history this chat is saved in; None when off, or when it cannot be opened (said)."""
        if not self.history_wanted:
            return None
        try:
            return Recorder(open_history(self.data_dir / "history.db"))
        except HistoryError as err:
            self._on_ui(self.chat.say, f"{err}; this chat is not saved in the history", "warning")
            return None

    def _history(self) -> History | None:
        """The history this chat is being saved in; None when it is off or stopped working."""
        session = self.session
        return session.history.history if session is not None and session.history is not None else None

    def _load_failed(self, message: str) -> None:
        message = message.rstrip(".")
        if self.session is not None:
            message += f"; still using {self.session.model_name}"
        else:
            message += "; /model [NAME] tries again"
        self.notify(message, title="Model not loaded", severity="error", timeout=10)
        self.chat.say(f"error: {message}", "error")

    # --- input ----------------------------------------------------------------------------

    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        text = message.text.strip()
        if not text or (self.session is None and not self.loading and await self._without_model(text)):
            return
        # Typed while a command runs (no reply streaming yet): it goes next, as typed ahead.
        queue = self.generating and not self.streaming and self.queued is None and not self.loading
        if not queue and not self.may_send():
            self._give_back(message.text)  # the input emptied itself on Enter
            return
        prompt = self.query_one(PromptInput)
        if prompt.remember(text) and self.history_wanted:  # with the chat history off, nothing is kept
            settings.add_input(self.inputs_file, text)
        if queue:
            self.queued = text
        else:
            await self.enter(text)

    def may_send(self) -> bool:
        """Whether input can run now; if not, say why (the input keeps its text)."""
        if self.generating:
            self.notify("A reply is being generated: wait for it, or press Escape to stop it.", severity="warning")
            return False
        if self.loading:
            self.notify("A model is loading; your message is kept.", severity="warning")
            return False
        if self.session is None:
            self.notify("No model is loaded: /model [NAME] tries again. Your message is kept.", severity="warning")
            return False
        return True

    async def _without_model(self, line: str) -> bool:
        """With no model loaded (its load failed: a server down, a file missing), /model [NAME]
        tries again and /quit quits; True when the line was one of them."""
        name, _, arg = line.removeprefix("/").partition(" ")
        if not line.startswith("/") or name not in ("model", "quit"):
            return False
        self.query_one(PromptInput).clear()
        if name == "quit":
            await self.action_quit()
            return True
        target = arg.strip() or self.model_arg or self.config.default
        try:
            self.config.model(target)
        except ParleyError as err:
            self.chat.say(f"error: {err}", "error")
            return True
        self.model_arg = target
        self.start_loading(target, f"loading {target}…")
        return True

    async def enter(self, line: str) -> None:
        """Run a message or a command: the TUI's own commands here, the rest in the pipeline."""
        self.chat.anchor()  # what it brings is shown, even when the user had scrolled up to read
        name, _, arg = line.removeprefix("/").partition(" ")
        if commands.is_command(line) and name in TUI_COMMANDS and await self._tui_command(name, arg.strip()):
            assert self.pipeline is not None
            self.pipeline.emit(CommandRan(line, "", ok=True))
            return
        self.generating = True
        self.cancel = threading.Event()
        self.refresh_status("working… (Escape stops)")
        self.run_input(line)

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
        elif name == "history":
            self.action_history(arg)
        elif name == "tokens":
            try:
                self.chat.show_tokens(commands.tokenized(self.session, arg))
            except ParleyError as err:
                self.chat.say(f"error: {err}", "error")
        elif name == "model" and arg:
            try:
                self.config.model(arg)
            except ParleyError as err:
                self.chat.say(f"error: {err}", "error")
            else:
                self.start_loading(arg, f"loading {arg}…")
        else:
            return False
        return True

    async def on_message_view_command(self, message: MessageView.Command) -> None:
        """A key on a message: < and > switch versions at once; e puts /edit N TEXT in the input."""
        if message.run:
            if self.may_send():
                self.switched_by_key = True
                await self.enter(message.line)
            return
        prompt = self.query_one(PromptInput)
        prompt.text = message.line
        prompt.focus()
        prompt.move_cursor(prompt.document.end)

    def _show_turn(self, turn: int, focus: bool) -> None:
        """After a version switch the conversation is drawn afresh: the message whose version
        was switched stays in view (and keeps the focus after < or >, so they can be pressed
        again; after a typed /branch N the input keeps it)."""
        for view in self.chat.query(MessageView):
            if view.turn == turn and view.role == "user":
                if focus:
                    view.focus(scroll_visible=False)
                self.chat.call_after_refresh(self.chat.scroll_to_widget, view, top=True, animate=False)
                return

    def action_history(self, search: str = "") -> None:
        """The list of past conversations; what is picked there runs as /open ID or /clear."""
        database = self._history()
        if database is None:
            self.notify("The history is off for this chat (see the status bar).", severity="warning")
            return

        async def picked(choice: tuple[str, int] | None) -> None:
            if choice is not None and self.may_send():
                await self.enter(f"/open {choice[1]}" if choice[0] == "open" else "/clear")

        self.push_screen(HistoryScreen(database, search), picked)

    def _theme_command(self, arg: str) -> None:
        themes = sorted(self.available_themes)
        if not arg:
            self.chat.say(f"theme: {self.theme}; available: {', '.join(themes)}")
        elif arg not in self.available_themes:
            self.chat.say(f"error: unknown theme '{arg}'{did_you_mean(arg, themes)}", "error")
        else:
            self.theme = arg
            self.chat.say(f"theme: {arg}")

    # --- the worker: one input through the pipeline -------------------------------------------

    @work(thread=True, exclusive=True, group="turn")
    def run_input(self, line: str) -> None:
        assert self.pipeline is not None
        self.idle.clear()
        turns = len(self.pipeline.session.conversation.turns)
        go_on = True
        try:
            if commands.is_command(line):
                go_on = self.pipeline.command(line, self.cancel)
            else:
                self.pipeline.send(line, self.cancel)
        except ParleyError:  # shown through its error event
            refused = not commands.is_command(line) and len(self.pipeline.session.conversation.turns) == turns
            if refused:  # never became a turn (too long, flagged): give the text back to edit
                self._on_ui(self._give_back, line)
        except Exception as err:  # noqa: BLE001 - a fault of Parley's own: save the conversation, end cleanly
            self.fault = (err, crash_report(err, self.data_dir))
            self._autosave()  # the turn in flight too, as far as it came
            go_on = False
        finally:
            self.inputs_run += 1
            settle_memory(full=self.inputs_run % FULL_COLLECTION_EVERY == 0)
            self.idle.set()
            self._on_ui(self._input_done, go_on)

    def _give_back(self, text: str) -> None:
        """Put text that was not sent back in the input, before anything typed since."""
        prompt = self.query_one(PromptInput)
        prompt.load_text(f"{text}\n{prompt.text}" if prompt.text else text)
        prompt.move_cursor(prompt.document.end)

    async def _input_done(self, go_on: bool) -> None:
        self.generating = self.streaming = False
        self.refresh_status()
        queued, self.queued = self.queued, None
        if not go_on:
            await self.action_quit()
        elif queued is not None:
            await self.enter(queued)

    def _on_ui(self, callback: Callable[..., object], *args: object) -> None:
        """Run `callback` on the UI thread and wait for it (from a worker); nothing once closing."""
        if not self.closing.is_set():
            self.call_from_thread(callback, *args)

    def render_event(self, event: Event) -> None:
        """The pipeline's events, from the worker thread. Streamed text goes to the reply without
        waiting for the screen; the rest waits until the UI has shown it, so it stays in order."""
        if isinstance(event, TurnDone):  # saved here, in the worker: also when the app is closing
            self._autosave()
        if self.closing.is_set():
            return  # the screen is going away; the pipeline still writes the transcript
        if isinstance(event, TextShown):
            self.chat.feed(event.text)
        elif threading.get_ident() == self._thread_id:
            self.call_later(self._show_event, event)  # e.g. a TUI command recorded from the UI thread
        else:
            self._on_ui(self._show_event, event)

    async def _show_event(self, event: Event) -> None:
        if self.closing.is_set():
            return
        chat = self.chat
        if isinstance(event, UserSent):
            assert self.session is not None
            self.streaming = True
            await chat.start_turn(event.content, len(self.session.conversation.turns))
        elif isinstance(event, Notice):
            chat.add_notice(event)
        elif isinstance(event, ReplyWithdrawn):
            await chat.withdraw(event.content)
        elif isinstance(event, TurnDone):
            await chat.finish_turn(event)
            self._turn_done(event)
            if self.session is not None:
                chat.show_versions(self.session.conversation)
        elif isinstance(event, CommandRan):
            name = event.command.removeprefix("/").partition(" ")[0]
            if event.ok and name == "think" and self.session is not None:
                chat.set_class(not self.session.show_reasoning, "-hide-reasoning")
            if event.ok and name in REBUILDS:
                assert self.session is not None
                trimmed = name in ("undo", "retry") and await chat.trim_to(self.session.conversation)
                if not trimmed:
                    await chat.show(self.session.conversation)
                chat.show_versions(self.session.conversation)
                turn = event.command.split()[1:2] if name == "branch" else []  # /branch N ..., typed or a key's
                if turn and turn[0].isdigit():
                    self._show_turn(int(turn[0]), focus=self.switched_by_key)
            self.switched_by_key = False
            if event.ok and event.output and name != "continue":  # the reply itself is seen going on
                chat.say(event.output)
        elif isinstance(event, ReplyContinued):
            chat.continue_turn(event.turn)
        elif isinstance(event, Compacted):
            chat.dim_turns(event.turns)
            chat.say(event.text())
        elif isinstance(event, CopyAsked):
            self.copy_to_clipboard(event.text)  # OSC 52: works over SSH too
        elif isinstance(event, ProbsShown):
            chat.show_probs(event.found)
        elif isinstance(event, Compared):
            chat.show_compared(event)
        elif isinstance(event, ErrorRaised):
            chat.say(f"error: {event.error}", "error")

    def _turn_done(self, done: TurnDone) -> None:
        reply = done.reply
        rate = f"{reply.tokens_per_s:.0f} tok/s, " if reply.tokens_per_s else ""
        self.last_speed = f"{rate}TTFT {reply.ttft_s:.2f}s" if reply.ttft_s is not None else rate

    @property
    def transcript_failed(self) -> bool:
        return self.transcript is not None and self.transcript.failed

    def _autosave(self) -> None:
        session = self.session
        assert session is not None
        if not self.history_wanted:  # kept nowhere, as asked
            return
        try:
            conv_file.save(self.autosave_path, session.conversation, session.model_name, session.params)
        except (OSError, ValueError) as err:
            self._on_ui(self.chat.say, f"autosave failed ({self.autosave_path}): {err}", "error")

    def ask(self, question: Question) -> bool:
        """Ask the user Yes/No in a dialog (default No), from the worker thread."""
        answered = threading.Event()
        answer = [False]

        def dismissed(value: bool | None) -> None:
            answer[0] = bool(value)
            answered.set()

        self._on_ui(self.push_screen, ConfirmScreen(question), dismissed)
        while not answered.wait(0.1):
            if self.closing.is_set():
                return False
        return answer[0]

    # --- actions --------------------------------------------------------------------------

    def action_new_chat(self) -> None:
        """Ctrl+N, as in the history list: a new conversation (the last one stays in the history)."""
        if self.may_send():
            self.run_worker(self.enter("/clear"))

    def action_page_conversation(self, direction: int) -> None:
        if direction < 0:
            self.chat.scroll_page_up(animate=False)
        else:
            self.chat.scroll_page_down(animate=False)

    def action_stop(self) -> None:
        if self.generating:
            self.cancel.set()

    def action_stop_or_pass(self) -> None:
        if not self.generating:
            raise SkipAction
        self.action_stop()

    def action_keys(self) -> None:
        self.push_screen(keys_screen())

    async def action_quit(self) -> None:
        self.closing.set()
        self.cancel.set()
        failed = self.transcript_failed or self.fault is not None  # a transcript that failed is a failure
        self.exit(return_code=1 if failed else 0)

    async def on_unmount(self) -> None:
        # A worker may still be inside llama.cpp: stop it and wait before freeing the model. Wait
        # off the event loop, so a worker's last call to the UI cannot wait on us in turn.
        self.closing.set()
        self.cancel.set()
        await asyncio.to_thread(self.idle.wait, 60)
        if self.session is not None:
            self.session.close()
        if self.transcript is not None:
            self.transcript.close()
        sys.setswitchinterval(self._switch_interval)
