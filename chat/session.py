"""A chat session's state: the config, the loaded engine, the sampling parameters, the
conversation, the presets, the actions on offer, the moderator, and the action requests that
wait for an answer.

Slash commands change its settings; the turn pipeline (`chat.pipeline`) runs the turns. No
front end talks to the engine directly, so the accounting and the policy live in one place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import platformdirs

from actions.action import ActionContext, Request
from actions.registry import Registry
from actions.workspace import Workspace
from chat import context, export
from chat.config import APP_NAME, Config, ModelConfig
from chat.conversation import Conversation, Turn
from chat.engine import Engine
from chat.errors import ConfigError, ParleyError, UsageError, did_you_mean
from chat.history import Recorder
from chat.moderation_model import ModerationModel
from chat.sampling import Sampling
from chat.sanitize import mark
from moderation import claims, claims_head
from moderation.claims import Claim, ClaimWatch, Confirm, find_claims
from moderation.filter import Moderator
from prompts import Preset, PresetError, load_presets

EngineLoader = Callable[[str, ModelConfig], Engine]


REDACTED_CLAIM = "removed: unbacked action claim"  # what replaces a claim with claims = "redact"


def user_prompts_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "prompts"


def presets_of(config: Config) -> dict[str, Preset]:
    """The system-prompt presets: Parley's, the user's, and those of `prompts_dir`."""
    extra = [user_prompts_dir()] + ([config.prompts_dir] if config.prompts_dir else [])
    try:
        return load_presets(extra)
    except PresetError as err:
        raise ConfigError(str(err)) from None


def check_preset(name: str, presets: dict[str, Preset]) -> None:
    if name not in presets:
        known = ", ".join(sorted(presets))
        raise UsageError(f"unknown prompt preset '{name}'{did_you_mean(name, presets)} (known: {known})")


class Session:
    def __init__(
        self,
        config: Config,
        load_engine: EngineLoader,
        model: str | None = None,
        moderator: Moderator | None = None,
        history: Recorder | None = None,
    ) -> None:
        self.config = config
        self.history = history  # where the conversation is saved as it happens; None: nowhere
        self.moderator = moderator or Moderator(config.moderation)
        self._load_engine = load_engine
        self.model_name, self.model_config = config.model(model)
        self.moderator.load_in_background()  # beside the model's loading, not after it
        self.claim_check: Confirm | None = None  # the claim detector's learned check; None: grammar alone
        self.claim_check_missing = ""  # why the learned check asked for in models.toml is not there
        detector = threading.Thread(target=self._load_claim_detector, name="claims-load", daemon=True)
        detector.start()
        self.engine: Engine = load_engine(self.model_name, self.model_config)
        llm = config.moderation.llm if self.moderator.enabled else None
        self.moderation_model = (
            ModerationModel(llm, load_engine("moderation.llm", llm), self.moderator) if llm else None
        )
        detector.join()  # the claim detector's word forms, and its check's encoder when moderation has none
        self.params: Sampling = self.model_config.sampling
        self.presets = presets_of(config)
        self.registry = Registry.from_config(config.actions)
        self.conversation = Conversation(actions_prompt=self.registry.prompt())
        self.use_prompt(self.model_config.prompt)
        self.pending: list[Request] = []  # action requests of the last reply, waiting for an answer
        self.logprobs = False  # each reply's token log-probabilities and perplexity (--logprobs)
        self.show_reasoning = True  # a reasoning model's thinking is shown (collapsed in the TUI); /think
        self.attachments: list[tuple[str, str]] = []  # (name, text) of files for the next message (/file)

    def _load_claim_detector(self) -> None:
        claims.load()
        if self.config.actions.claim_check == "learned":
            self.claim_check, self.claim_check_missing = claims_head.load_check()

    @property
    def claim_redaction(self) -> str:
        """What replaces an unbacked claim in a reply: with `claims = "redact"` a mark, else nothing
        is replaced ("")."""
        return mark(REDACTED_CLAIM) if self.config.actions.claims == "redact" else ""

    def claim_watch(self, user: str) -> ClaimWatch:
        """The claims of a reply to the message `user` as it is shown, sentence by sentence; with
        `claims = "redact"`, it lets through only sentences known to hold no claim."""
        return ClaimWatch(self.registry.backers, self.claim_check, user, self.claim_redaction, self.registry.prose)

    def unbacked_claims(self, reply: str, user: str, executed: set[str] | frozenset[str] = frozenset()) -> list[Claim]:
        """The claims in `reply` to the message `user` (its action requests aside) that no action
        in `executed` backs (words of the user's that the reply repeats are not its claims)."""
        return find_claims(self.registry.prose(reply), executed, self.registry.backers, self.claim_check, user)

    def action_context(self) -> ActionContext:
        data = Path(platformdirs.user_data_dir(APP_NAME))
        workspace = Workspace(self.config.actions.workspace or data / "workspace")

        def export_as(suffix: str) -> str:
            return export.render(suffix, self.conversation, self.model_name)

        return ActionContext(workspace=workspace, notes_file=data / "notes.md", export=export_as)

    # --- settings -------------------------------------------------------------------------

    def use_prompt(self, name: str) -> None:
        check_preset(name, self.presets)
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
        pending = self.message("") if self.attachments else None  # attached files count already
        return self.engine.count_tokens(self.conversation.context_messages(pending))

    def context_report(self) -> context.ContextReport:
        return context.report(self.engine, self.conversation, self.params.max_tokens)

    # --- the conversation -------------------------------------------------------------------

    def pop_last_turn(self, doing: str = "undo") -> Turn:
        if not self.conversation.turns:
            raise ParleyError(f"nothing to {doing}: the conversation is empty")
        self.pending.clear()  # requests belong to the last reply
        return self.conversation.turns.pop()

    def use_conversation(self, conversation: Conversation) -> None:
        """Start over from `conversation` (empty for /clear, or loaded from a file)."""
        conversation.actions_prompt = self.registry.prompt()
        self.conversation = conversation
        self.pending.clear()

    def warm_up(self) -> None:
        """Evaluate the system prompt and the conversation in the background while the user types
        (front ends with a person typing call this when the session starts)."""

        def warm() -> None:
            try:
                self.engine.warm(self.conversation.context_messages())
            except Exception:  # only ever a head start: the reply evaluates whatever is missing
                pass

        threading.Thread(target=warm, name="warm-up", daemon=True).start()

    def message(self, text: str) -> str:
        """The user's next message as the model gets it: `text`, then the attached files."""
        files = [f"File {name}:\n~~~~\n{content}\n~~~~" for name, content in self.attachments]
        return "\n\n".join([text, *files]) if files else text

    def close(self) -> None:
        if self.history is not None:
            self.history.close()
        self.engine.close()
        if self.moderation_model is not None:
            self.moderation_model.close()
