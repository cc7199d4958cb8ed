"""The engine protocol: what Parley needs from a language model, and nothing more.

Two implementations: `chat.llama_engine.LlamaEngine` (llama.cpp) and `chat.fake_engine.FakeEngine`
(scripted, for unit tests and benchmarks). Messages are plain {"role", "content"} dicts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict

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
    n_gpu_layers: int = 0


@dataclass(frozen=True)
class TextDelta:
    text: str


StopReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True)
class StreamEnd:
    """The last event of every stream."""

    finish_reason: StopReason
    prompt_tokens: int  # the templated prompt, exactly as fed to the model
    completion_tokens: int
    evaluated_prompt_tokens: int  # prompt tokens actually computed; the rest came from the KV cache


StreamEvent = TextDelta | StreamEnd


class Engine(Protocol):
    @property
    def info(self) -> ModelInfo: ...

    def tokenize(self, text: str) -> list[int]: ...

    def detokenize(self, tokens: Sequence[int]) -> str: ...

    def count_tokens(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> int:
        """Exact token count of the chat-templated prompt for `messages`."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        params: Sampling,
        cancel: threading.Event,
        json_schema: dict[str, Any] | None = None,
    ) -> Iterator[StreamEvent]:
        """Yield TextDelta events, then one StreamEnd. Setting `cancel` stops it between tokens.
        With `json_schema`, the output is constrained to JSON matching it (a grammar)."""
        ...

    def close(self) -> None: ...
