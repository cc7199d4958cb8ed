"""The engine: what Parley needs from a language model, and nothing more.

Two implementations: `chat.llama_engine.LlamaEngine` (llama.cpp) and `chat.scripted_engine.ScriptedEngine`
(scripted, for unit tests and benchmarks). Messages are plain {"role", "content"} dicts.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from chat.errors import ParleyError
from chat.sampling import Sampling


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str
    n_ctx: int
    chat_format: str  # "gguf template" or the llama-cpp-python format name
    n_gpu_layers: int = 0  # asked for in models.toml (-1: all)
    gpu_layers: int = 0  # offloaded, of `layers` (the repeating layers and the output layer)
    layers: int = 0
    lora: str = ""  # the LoRA adapter applied, if any
    lora_scale: float = 0.0
    counts: Literal["exact", "approximate"] = "exact"  # token counts: the model's own, or estimated
    notes: tuple[str, ...] = ()  # what the user should know about this model, told once when it loads

    def device(self) -> str:
        """Where the model runs, for the status bar: "GPU 31/31 layers"; "" on the CPU as asked."""
        if self.gpu_layers:
            return f"GPU {self.gpu_layers}/{self.layers} layers"
        return "CPU: no GPU in this llama.cpp build" if self.n_gpu_layers else ""


@dataclass(frozen=True)
class TextDelta:
    text: str
    tokens: int = 1  # tokens generated since the last delta (a character can take several)


StopReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True)
class TokenLogprob:
    token: int
    text: str  # the token's own text
    logprob: float  # the natural log of its probability under the model's raw logits


@dataclass(frozen=True)
class StreamEnd:
    """The last event of every stream."""

    finish_reason: StopReason
    prompt_tokens: int  # the templated prompt, exactly as fed to the model
    completion_tokens: int
    evaluated_prompt_tokens: int  # prompt tokens actually computed; the rest came from the KV cache
    logprobs: tuple[TokenLogprob, ...] = ()  # each generated token's, when asked for


StreamEvent = TextDelta | StreamEnd


@dataclass(frozen=True)
class Candidate:
    token: int
    text: str  # the token's own text
    p: float  # its probability among the tokens the stage kept


@dataclass(frozen=True)
class Stage:
    """The next-token distribution after one step of the sampler chain ("logits": none yet)."""

    name: str  # "logits", "penalties", "top_k", "top_p", "min_p", "temperature", "greedy"
    setting: str  # the parameters it applied, e.g. "top_k 40"
    kept: int  # how many tokens are left
    top: tuple[Candidate, ...]  # the likeliest of them


@dataclass(frozen=True)
class NextToken:
    """What the model could write next at one position, as each sampler stage leaves it."""

    position: int  # its place in the reply, from 1 (the reply's first token)
    stages: tuple[Stage, ...]
    written: Candidate | None = None  # the token the reply has there, with its raw probability


class Engine(ABC):
    """A loaded model. Subclasses render and tokenize with the model's own template and
    tokenizer, so every count is exactly what the model evaluates."""

    @property
    @abstractmethod
    def info(self) -> ModelInfo: ...

    @abstractmethod
    def tokenize(self, text: str) -> list[int]: ...

    @abstractmethod
    def detokenize(self, tokens: Sequence[int]) -> str: ...

    def text_tokens(self, text: str) -> list[int]:
        """`text` as the model reads it inside a message (names of control tokens stay text)."""
        return self.tokenize(text)

    def pieces(self, tokens: Sequence[int]) -> list[str]:
        """Each token's own text."""
        return [self.detokenize([token]) for token in tokens]

    @abstractmethod
    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        """The prompt text for `messages`, through the chat template."""

    def prompt_tokens(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> list[int]:
        """The tokens the model evaluates for `messages`, through the chat template."""
        return self.tokenize(self.render(messages, add_generation_prompt))

    def count_tokens(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> int:
        """Exact token count of the chat-templated prompt for `messages`."""
        return len(self.prompt_tokens(messages, add_generation_prompt))

    @abstractmethod
    def stream(
        self,
        messages: Sequence[Message],
        params: Sampling,
        cancel: threading.Event,
        json_schema: dict[str, Any] | None = None,
        continue_reply: bool = False,
        logprobs: bool = False,
    ) -> Iterator[StreamEvent]:
        """Yield TextDelta events, then one StreamEnd. Setting `cancel` stops it between tokens.
        With `json_schema`, the output is constrained to JSON matching it (a grammar). With
        `continue_reply`, the last message is the assistant's reply so far, and the model goes
        on writing it (the prompt ends right after its text). With `logprobs`, the StreamEnd
        carries each generated token's log-probability (engines that cannot give none)."""

    def set_lora_scale(self, scale: float) -> None:
        """Apply the LoRA adapter at `scale` from the next reply on (0: the model as it is)."""
        raise ParleyError("this model has no LoRA adapter (set lora_path in models.toml)")

    def reply_tokens(self, messages: Sequence[Message], text: str) -> list[int]:
        """The tokens of `text`, the reply after `messages` (whose last is an open assistant
        message): the ones generation produced, when it produced that text after that prompt;
        else `text` tokenized (which can split it differently)."""
        return self.text_tokens(text)

    def next_token(
        self, messages: Sequence[Message], reply: Sequence[int], params: Sampling, top: int, written: int | None = None
    ) -> NextToken:
        """The candidates for the token after `messages`, whose last is an assistant message
        whose text is the tokens `reply`: from the raw logits, then after each stage of the
        sampler chain with `params`, in the order generation applies them. `written`: the token
        the reply has there, if any."""
        raise ParleyError("this model cannot show next-token probabilities (a local llama.cpp model can)")

    @contextlib.contextmanager
    def aside(self) -> Iterator[None]:
        """Generation inside leaves the model's cache as it was (/compare): what the
        conversation's replies evaluated stays, so /probs keeps showing the numbers they were
        drawn from. Engines without a cache have nothing to keep."""
        yield

    def warm(self, messages: Sequence[Message]) -> None:  # noqa: B027 (optional: a no-op by default)
        """Evaluate ahead what the next prompt starts with, `messages` and the template's text
        before a user's message (engines without a cache have nothing to do)."""

    @abstractmethod
    def close(self) -> None: ...
