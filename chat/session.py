"""A chat session: the config, the loaded engine, the conversation and the sampling parameters.

Front-ends (line chat, headless runner, TUI) drive a Session; none of them talks to the engine
directly, so the accounting and the policy live in one place.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from chat import context, export
from chat.config import APP_NAME, Config, ModelConfig
from chat.conversation import ActionRecord, Conversation, FinishReason, Reply, Turn
from chat.engine import Engine, StreamEnd
from chat.errors import ConfigError, ParleyError, UsageError, did_you_mean
from chat.sampling import Sampling
from moderation.actions import BUILTIN, ActionContext, ActionError, Registry, Request, command_action
from moderation.claims import find_claims
from moderation.filter import Moderator
from moderation.stream import StreamFilter
from moderation.verdict import Verdict
from prompts import Preset, PresetError, load_presets

EngineLoader = Callable[[str, ModelConfig], Engine]


def user_prompts_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "prompts"


@dataclass(frozen=True)
class TurnResult:
    turn: Turn
    dropped: list[int]  # turns that this generation pushed out of the context window
    context_used: int  # prompt + reply tokens, after the reply
    n_ctx: int


class Session:
    def __init__(
        self, config: Config, load_engine: EngineLoader, model: str | None = None, moderator: Moderator | None = None
    ) -> None:
        self.config = config
        self.moderator = moderator or Moderator(config.moderation)
        self._load_engine = load_engine
        self.model_name, self.model_config = config.model(model)
        self.engine: Engine = load_engine(self.model_name, self.model_config)
        self.params: Sampling = self.model_config.sampling
        self.conversation = Conversation()
        self.presets = self._load_presets()
        self.use_prompt(self.model_config.prompt)
        self.registry = self._registry()
        self.conversation.actions_prompt = self.registry.prompt() if self.registry.actions else ""
        self.pending: list[Request] = []  # action requests waiting for the user's answer

    def _registry(self) -> Registry:
        settings = self.config.actions
        if not settings.enabled:
            return Registry([])
        commands = [command_action(name, c) for name, c in settings.commands.items() if c.enabled]
        return Registry([*BUILTIN, *commands])

    def action_context(self) -> ActionContext:
        data = Path(platformdirs.user_data_dir(APP_NAME))
        workspace = self.config.actions.workspace or data / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)

        def export_to(path: Path) -> None:
            export.export(path, self.conversation, self.model_name)

        return ActionContext(workspace=workspace, notes_file=data / "notes.md", export=export_to)

    def _load_presets(self) -> dict[str, Preset]:
        extra = [user_prompts_dir()] + ([self.config.prompts_dir] if self.config.prompts_dir else [])
        try:
            return load_presets(extra)
        except PresetError as err:
            raise ConfigError(str(err)) from None

    # --- settings -------------------------------------------------------------------------

    def use_prompt(self, name: str) -> None:
        if name not in self.presets:
            known = ", ".join(sorted(self.presets))
            raise UsageError(f"unknown prompt preset '{name}'{did_you_mean(name, self.presets)} (known: {known})")
        self.conversation.system = self.presets[name].text
        self.conversation.prompt_name = name

    def set_system(self, text: str) -> None:
        self.conversation.system = text
        self.conversation.prompt_name = None

    def switch_model(self, name: str) -> None:
        """Load another model; on failure the current one stays loaded and usable."""
        new_name, new_config = self.config.model(name)
        engine = self._load_engine(new_name, new_config)
        self.engine.close()
        self.engine, self.model_name, self.model_config = engine, new_name, new_config
        self.params = new_config.sampling

    def context_used(self) -> int:
        """The prompt the next reply would see, in tokens (one count, not the per-turn report)."""
        return self.engine.count_tokens(self.conversation.context_messages())

    def context_report(self) -> context.ContextReport:
        return context.report(self.engine, self.conversation, self.params.max_tokens)

    # --- generation -------------------------------------------------------------------------

    def send(
        self,
        user: str,
        on_delta: Callable[[str], None] = lambda _: None,
        cancel: threading.Event | None = None,
        force_action: bool = False,
    ) -> TurnResult:
        """Generate a reply to `user`, streaming text to `on_delta`; record the turn.

        A cancelled or failed generation keeps its partial reply (finish_reason says which),
        so nothing the user saw is lost. With `force_action`, a grammar makes the reply a
        well-formed action request (for models that would not write one on their own).
        """
        if force_action and not self.registry.actions:
            raise ParleyError("no actions are enabled ([actions] enabled = false)")
        schema = self.registry.request_schema() if force_action else None
        cancel = cancel or threading.Event()
        params = self.params
        screen = StreamFilter(self.moderator) if self.moderator.enabled else None
        prompt_tokens, dropped = context.fit(
            self.engine, self.conversation, user, params.max_tokens, self.config.overflow
        )
        messages = self.conversation.context_messages(user)
        turn = Turn(user=user)
        self.conversation.turns.append(turn)
        parts: list[str] = []  # what was shown: moderated text only
        start = time.perf_counter()
        ttft = None

        def show(text: str) -> None:
            nonlocal ttft
            if text:
                ttft = ttft if ttft is not None else time.perf_counter() - start
                parts.append(text)
                on_delta(text)

        # Stands in for the engine's own StreamEnd if the stream fails before it arrives.
        end = StreamEnd("cancelled", prompt_tokens, 0, prompt_tokens)
        first_token = last_token = 0.0  # when the model produced text (moderation may show it later)
        try:
            for event in self.engine.stream(messages, params, cancel, schema):
                if isinstance(event, StreamEnd):
                    end = event
                    continue
                last_token = time.perf_counter()
                first_token = first_token or last_token
                if screen is None:
                    show(event.text)
                else:
                    show(screen.feed(event.text))
                    if screen.blocked:
                        cancel.set()  # stop generating: nothing more of this reply will be shown
            if screen is not None:
                show(screen.finish())
        except Exception as err:
            end = StreamEnd(end.finish_reason, end.prompt_tokens, len(parts), end.evaluated_prompt_tokens)
            turn.reply = self._reply(parts, params, end, ttft, start, "error", screen)
            raise ParleyError(f"generation failed: {err}") from err
        finish: FinishReason = "blocked" if screen and screen.blocked else end.finish_reason
        turn.reply = self._reply(parts, params, end, ttft, start, finish, screen)
        # The model's own pace: the tokens after the first, over the time they took.
        if end.completion_tokens > 1 and last_token > first_token:
            turn.reply.tokens_per_s = (end.completion_tokens - 1) / (last_token - first_token)
        requests, problems = self._requests(turn.reply.content, force_action) if finish != "blocked" else ([], [])
        self.pending = requests
        turn.reply.guard = {"problems": problems}
        self.update_guard()
        used = end.prompt_tokens + end.completion_tokens
        return TurnResult(turn, dropped, used, self.engine.info.n_ctx)

    def _reply(
        self,
        parts: list[str],
        params: Sampling,
        end: StreamEnd,
        ttft: float | None,
        start: float,
        finish: FinishReason,
        screen: StreamFilter | None,
    ) -> Reply:
        content = "".join(parts)
        if screen is not None and screen.blocked is not None:
            # The model sees this in later turns, so it knows its reply never reached the user.
            content = f"[reply withheld by moderation: {screen.blocked.label}]"
        return Reply(
            content=content,
            model=self.model_name,
            params=params,
            finish_reason=finish,
            prompt_tokens=end.prompt_tokens,
            completion_tokens=end.completion_tokens,
            evaluated_prompt_tokens=end.evaluated_prompt_tokens,
            ttft_s=ttft,
            duration_s=time.perf_counter() - start,
            moderation=None
            if screen is None
            else {
                "decision": screen.decision,
                "backend": self.moderator.backend_name,
                "flagged": [v.to_json() for v in screen.flagged],
            },
        )

    # --- actions and the guard ---------------------------------------------------------------

    def _requests(self, reply: str, forced: bool) -> tuple[list[Request], list[str]]:
        if not forced:
            return self.registry.parse(reply)
        try:
            return [self.registry.request_from(json.loads(reply))], []
        except (ValueError, ActionError) as err:  # e.g. cut at max_tokens before the JSON closed
            return [], [f"unreadable action request ({err})"]

    def decide(self, approved: bool) -> ActionRecord:
        """Answer the oldest pending request. Only front-ends call this, after asking the user."""
        if not self.pending or not self.conversation.turns:
            raise ParleyError("no action is waiting for an answer")
        request = self.pending.pop(0)
        ok, result = False, "declined by the user"
        if approved:
            try:
                result, ok = self.registry.execute(request, self.action_context()), True
            except (ActionError, OSError) as err:
                result = str(err)
        record = ActionRecord(
            name=request.action.name, arguments=request.arguments.model_dump(), risk=request.action.risk,
            approved=approved, ok=ok, result=result,
        )  # fmt: skip
        self.conversation.turns[-1].actions.append(record)
        self.update_guard()
        return record

    def update_guard(self) -> None:
        """Find the last reply's action claims that no action that ran and succeeded backs."""
        turn = self.conversation.turns[-1] if self.conversation.turns else None
        if turn is None or turn.reply is None or turn.reply.guard is None:
            return
        executed = {a.name for a in turn.actions if a.ok}
        found = find_claims(turn.reply.content, executed)
        if found and not self.pending and self.config.actions.claims == "redact":
            for claim in found:  # once every request is answered, so a claim that became backed stays
                turn.reply.content = turn.reply.content.replace(claim.sentence, "[removed: unbacked action claim]")
        claims = [c.to_json() for c in found]
        turn.reply.guard = {**turn.reply.guard, "claims": claims, "pending": [r.action.name for r in self.pending]}

    def check_input(self, text: str) -> Verdict | None:
        """The verdict on a user message when input moderation is on and it is flagged."""
        if not (self.moderator.enabled and self.config.moderation.moderate_input):
            return None
        verdict = self.moderator.check(text)
        return verdict if verdict.decision != "allow" else None

    def pop_last_turn(self) -> Turn:
        if not self.conversation.turns:
            raise ParleyError("nothing to undo: the conversation is empty")
        self.pending.clear()  # requests belong to the last reply
        return self.conversation.turns.pop()

    def use_conversation(self, conversation: Conversation) -> None:
        """Start over from `conversation` (empty for /clear, or loaded from a file)."""
        conversation.actions_prompt = self.registry.prompt() if self.registry.actions else ""
        self.conversation = conversation
        self.pending.clear()

    def close(self) -> None:
        self.engine.close()
