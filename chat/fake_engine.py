"""A scripted engine for unit tests and benchmarks: replays queued replies and records calls.

It implements the whole engine honestly (a word-level tokenizer, a ChatML-like template,
max_tokens, cancellation, KV-prefix bookkeeping), so the code above it is exercised for real.
`FakeLoader` stands in for `chat.models.load_engine`.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from chat.config import ModelConfig
from chat.engine import Engine, Message, ModelInfo, StopReason, StreamEnd, StreamEvent, TextDelta
from chat.errors import ModelLoadError
from chat.sampling import Sampling

# Special tokens, runs of whitespace, and words: like a real tokenizer, the rendered history
# re-tokenizes to the same tokens that were streamed, so KV-prefix reuse can be observed.
_PIECE = re.compile(r"<\|\w+\|>|\s+|[^\s<]+|<")


@dataclass
class Call:
    messages: list[Message]
    params: Sampling
    json_schema: dict[str, Any] | None = None  # the fake does not enforce it; tests check it was asked


@dataclass
class FakeEngine(Engine):
    n_ctx: int = 2048
    name: str = "fake"
    token_delay: float = 0.0  # seconds per streamed token, to imitate a real model's pace
    block: threading.Event | None = None  # when set to an Event, streaming waits for it (or cancel)
    fail_after: int | None = None  # raise RuntimeError after this many streamed tokens
    calls: list[Call] = field(default_factory=list)
    _replies: deque[str] = field(default_factory=deque)
    _vocab: dict[str, int] = field(default_factory=dict)
    _pieces: list[str] = field(default_factory=list)
    _cached: list[int] = field(default_factory=list)

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(name=self.name, path="(fake)", n_ctx=self.n_ctx, chat_format="fake chatml")

    def enqueue(self, *replies: str) -> None:
        self._replies.extend(replies)

    def tokenize(self, text: str) -> list[int]:
        ids = []
        for piece in _PIECE.findall(text):
            if piece not in self._vocab:
                self._vocab[piece] = len(self._pieces)
                self._pieces.append(piece)
            ids.append(self._vocab[piece])
        return ids

    def detokenize(self, tokens: Sequence[int]) -> str:
        return "".join(self._pieces[t] for t in tokens)

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")

    def stream(
        self,
        messages: Sequence[Message],
        params: Sampling,
        cancel: threading.Event,
        json_schema: dict[str, Any] | None = None,
    ) -> Iterator[StreamEvent]:
        self.calls.append(Call(list(messages), params, json_schema))
        prompt = self.tokenize(self.render(messages))
        if len(prompt) + params.max_tokens > self.n_ctx:
            raise ValueError(f"fake engine: {len(prompt)} + {params.max_tokens} tokens exceed n_ctx {self.n_ctx}")
        reused = _common_prefix(self._cached, prompt)
        self._cached = list(prompt)
        reply = self._replies.popleft() if self._replies else f"You said: {messages[-1]['content']}"
        tokens = self.tokenize(reply)
        finish: StopReason = "stop"
        sent = 0
        for token in tokens:
            if self.block is not None:
                while not self.block.wait(0.01):
                    if cancel.is_set():
                        break
            if cancel.is_set():
                finish = "cancelled"
                break
            if sent == params.max_tokens:
                finish = "length"
                break
            if self.fail_after is not None and sent >= self.fail_after:
                raise RuntimeError("fake engine failure")
            if self.token_delay:
                time.sleep(self.token_delay)
            sent += 1
            self._cached.append(token)
            yield TextDelta(self.detokenize([token]))
        yield StreamEnd(finish, len(prompt), sent, len(prompt) - reused)

    def close(self) -> None:
        self._cached = []


class FakeLoader:
    """An engine loader that hands out FakeEngines (each queued with `replies`) and remembers them;
    loading a model named in `fail_on` fails as a corrupt file would."""

    def __init__(self, *replies: str) -> None:
        self.engines: list[FakeEngine] = []
        self.fail_on: set[str] = set()
        self.replies = replies

    def __call__(self, name: str, model: ModelConfig) -> FakeEngine:
        if name in self.fail_on:
            raise ModelLoadError(f"cannot load model {name}: corrupt file")
        engine = FakeEngine(n_ctx=model.n_ctx, name=name)
        engine.enqueue(*self.replies)
        self.engines.append(engine)
        return engine


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
