"""A scripted model: replies given in advance, streamed through the whole of Parley (moderation,
the guard, actions, transcripts, the TUI) as a real model's would be. It tests a moderation
policy or an action config from a shell, and runs the unit tests and benchmarks.

In models.toml, `[models.NAME] script = "replies.jsonl"`: one JSON object a line,
`{"content": "..."}`, used in order; `"chunks": ["...", "..."]` streams it in those pieces, and
`"delay_s"` waits that long before each piece. When the replies run out, the next reply fails
with an error that says so.

The engine is honest about everything else: a chat template (ChatML-like), tokens, max_tokens,
stop at cancel, KV-prefix bookkeeping. Its tokenizer: each `<|...|>` marker, each run of
whitespace and each run of other characters is one token.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chat.chat_template import chatml
from chat.config import ModelConfig
from chat.engine import Engine, Message, ModelInfo, StopReason, StreamEnd, StreamEvent, TextDelta
from chat.errors import ConfigError, ModelLoadError
from chat.files import read_capped
from chat.sampling import Sampling
from chat.sanitize import clean

# Special tokens, runs of whitespace, and words: like a real tokenizer, the rendered history
# re-tokenizes to the same tokens that were streamed, so KV-prefix reuse can be observed.
_PIECE = re.compile(r"<\|\w+\|>|\s+|[^\s<]+|<")


class ScriptedReply(BaseModel):
    """One line of a script: the reply, and how it streams."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content: str = ""
    chunks: tuple[str, ...] | None = Field(None, description="stream in these pieces (they make the content)")
    delay_s: float = Field(0.0, ge=0, le=60, description="seconds before each piece")

    @model_validator(mode="after")
    def _chunks_make_the_content(self) -> ScriptedReply:
        if self.chunks is not None and self.content and "".join(self.chunks) != self.content:
            raise ValueError("the chunks do not join up to the content")
        return self

    @property
    def text(self) -> str:
        return "".join(self.chunks) if self.chunks is not None else self.content


def read_script(path: Path) -> list[ScriptedReply]:
    """The replies in a script file; ConfigError naming the line that is wrong."""
    where = clean(str(path))
    try:
        lines = read_capped(path).splitlines()
    except FileNotFoundError:
        raise ConfigError(f"script not found: {where}") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"cannot read script {where}: {err}") from None
    replies = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            replies.append(ScriptedReply.model_validate(json.loads(line)))
        except (ValueError, RecursionError) as err:  # JSON and validation errors both
            detail = err.errors()[0]["msg"] if isinstance(err, ValidationError) else "not valid JSON"
            raise ConfigError(f'{where}:{number}: expected {{"content": "..."}} ({clean(detail)})') from None
    return replies


@dataclass
class Call:
    messages: list[Message]
    params: Sampling
    json_schema: dict[str, Any] | None = None  # not enforced; tests check it was asked


@dataclass
class ScriptedEngine(Engine):
    n_ctx: int = 2048
    name: str = "fake"
    script: Path | None = None  # where the replies came from; None: echo the user once they run out
    token_delay: float = 0.0  # seconds per streamed token, to imitate a real model's pace
    block: threading.Event | None = None  # when set to an Event, streaming waits for it (or cancel)
    fail_after: int | None = None  # raise RuntimeError after this many streamed tokens
    calls: list[Call] = field(default_factory=list)
    _replies: deque[ScriptedReply] = field(default_factory=deque)
    _used: int = 0
    _vocab: dict[str, int] = field(default_factory=dict)
    _pieces: list[str] = field(default_factory=list)
    _cached: list[int] = field(default_factory=list)

    @property
    def info(self) -> ModelInfo:
        source = f"script {self.script}" if self.script else "(scripted)"
        return ModelInfo(name=self.name, path=source, n_ctx=self.n_ctx, chat_format="scripted chatml")

    def enqueue(self, *replies: str | ScriptedReply) -> None:
        self._replies.extend(r if isinstance(r, ScriptedReply) else ScriptedReply(content=r) for r in replies)

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
        return chatml(messages, add_generation_prompt)

    def _next_reply(self, messages: Sequence[Message]) -> ScriptedReply:
        if self._replies:
            self._used += 1
            return self._replies.popleft()
        if self.script is not None:
            raise RuntimeError(f"the script {self.script} has no more replies ({self._used} used)")
        return ScriptedReply(content=f"You said: {messages[-1]['content']}")

    def stream(
        self,
        messages: Sequence[Message],
        params: Sampling,
        cancel: threading.Event,
        json_schema: dict[str, Any] | None = None,
        continue_reply: bool = False,
        logprobs: bool = False,  # a script has no probabilities: none are given
    ) -> Iterator[StreamEvent]:
        self.calls.append(Call(list(messages), params, json_schema))
        prompt = self.tokenize(self.render(messages, add_generation_prompt=not continue_reply))
        if len(prompt) + params.max_tokens > self.n_ctx:
            raise ValueError(f"scripted engine: {len(prompt)} + {params.max_tokens} tokens exceed n_ctx {self.n_ctx}")
        reused = _common_prefix(self._cached, prompt)
        self._cached = list(prompt)
        reply = self._next_reply(messages)
        pieces = list(reply.chunks) if reply.chunks is not None else _PIECE.findall(reply.content)
        delay = reply.delay_s or self.token_delay
        finish: StopReason = "stop"
        sent = 0
        for piece in pieces:
            tokens = self.tokenize(piece)
            if self.block is not None:
                while not self.block.wait(0.01):
                    if cancel.is_set():
                        break
            if cancel.is_set():
                finish = "cancelled"
                break
            if sent + len(tokens) > params.max_tokens:
                tokens = tokens[: params.max_tokens - sent]
                piece, finish = self.detokenize(tokens), "length"
            if self.fail_after is not None and sent >= self.fail_after:
                raise RuntimeError("scripted engine failure")
            if delay:
                time.sleep(delay)
            sent += len(tokens)
            self._cached.extend(tokens)
            if piece:
                yield TextDelta(piece, len(tokens))
            if finish == "length":
                break
        yield StreamEnd(finish, len(prompt), sent, len(prompt) - reused)

    def close(self) -> None:
        self._cached = []


class ScriptedLoader:
    """An engine loader that hands out ScriptedEngines (each queued with `replies`) and remembers
    them; loading a model named in `fail_on` fails as a corrupt file would. For tests and benches."""

    def __init__(self, *replies: str | ScriptedReply) -> None:
        self.engines: list[ScriptedEngine] = []
        self.fail_on: set[str] = set()
        self.replies = replies

    def __call__(self, name: str, model: ModelConfig) -> ScriptedEngine:
        if name in self.fail_on:
            raise ModelLoadError(f"cannot load model {name}: corrupt file")
        engine = ScriptedEngine(n_ctx=model.n_ctx, name=name)
        engine.enqueue(*self.replies)
        self.engines.append(engine)
        return engine


def load_script(name: str, model: ModelConfig) -> ScriptedEngine:
    """The engine of a `script` model."""
    assert model.script is not None
    engine = ScriptedEngine(n_ctx=model.n_ctx, name=name, script=model.script)
    engine.enqueue(*read_script(model.script))
    return engine


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
