"""The llama.cpp engine. This is the only module that imports llama_cpp.

The prompt is rendered here with the model's own chat template and tokenized with its own
tokenizer, so the count that the context accounting sees is exactly what is evaluated.
Generation goes through `Llama.generate`, which reuses the longest common prefix of the KV
cache: as long as the rendered history does not change, turn N evaluates only new tokens. The
prompt's start that every conversation shares is also kept on disk between runs
(`chat.prompt_cache`).
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import dataclasses
import itertools
import json
import os
import random
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
import platformdirs
from llama_cpp.llama_grammar import LlamaGrammar

from chat import sampler_stages
from chat.chat_template import ChatTemplate, read_template
from chat.config import APP_NAME, ModelConfig
from chat.engine import (
    Candidate,
    Engine,
    Message,
    ModelInfo,
    NextToken,
    StopReason,
    StreamEnd,
    StreamEvent,
    TextDelta,
    TokenLogprob,
)
from chat.errors import ConfigError, ModelLoadError, ParleyError
from chat.gguf_header import check_lora, check_model
from chat.prompt_cache import MIN_TOKENS, PromptCache, identity
from chat.sampling import Sampling
from chat.sanitize import clean
from chat.stops import StopScanner
from moderation import llamacpp

# Tokens of a prompt that must follow, in the cache, where the cache parts from it before they are
# taken for the same text moved (LlamaEngine._shift): a message's worth, not a chance match.
SHIFT_MATCH = 16


def default_threads() -> int:
    """Decoding threads when models.toml names none: every physical core but one, which the
    moderation worker and Python's own work per token need (bench/threads.py: on 2 cores, 2
    threads decoded at 0.92-0.97x the pace of 1)."""
    return max(1, physical_cores() - 1)


def physical_cores() -> int:
    """The physical cores this process may run on (hyper-threads share a core's arithmetic units,
    which decoding saturates); llama-cpp-python's own default guesses cpu_count // 2."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        cores = cores_in(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        cores = 0
    return max(1, min(usable, cores or usable // 2))


def cores_in(cpuinfo: str) -> int:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo's text; 0 when it names none."""
    cores, physical = set(), "0"
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "physical id":
            physical = value.strip()
        elif key.strip() == "core id":
            cores.add((physical, value.strip()))
    return len(cores)


class LlamaEngine(Engine):
    def __init__(self, name: str, path: Path, config: ModelConfig) -> None:
        check_model(path)
        if config.lora_path is not None:
            check_lora(config.lora_path, path)  # llama.cpp crashes on an adapter it cannot use
        llamacpp.forget_log()
        flash = config.flash_attn
        if flash is None:  # as llama.cpp's tools choose, but on the CPU only when asked: see the bench
            flash = config.n_gpu_layers != 0 and llama_cpp.llama_supports_gpu_offload()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=config.n_ctx,
                n_gpu_layers=config.n_gpu_layers,
                n_threads=config.n_threads or default_threads(),
                flash_attn=flash,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as err:
            why = llamacpp.logged_error(str(err))
            raise ModelLoadError(f"cannot load model {clean(str(path))}: {clean(why)}") from None
        self._lock = threading.Lock()  # one generation at a time on this context
        self._adapter: Any = None  # the LoRA adapter, loaded here (not by llama-cpp-python) so /lora can rescale it
        try:
            if config.lora_path is not None:
                self._adapter = llama_cpp.llama_adapter_lora_init(self._llm.model, str(config.lora_path).encode())
                if not self._adapter:
                    detail = clean(llamacpp.logged_error("llama.cpp refused it"))
                    raise ModelLoadError(f"cannot load lora_path {clean(str(config.lora_path))}: {detail}")
                self._scale_adapter(config.lora_scale)
            bos, eos = (self._token_text(token) for token in (self._llm.token_bos(), self._llm.token_eos()))
            self._chat_template = self._template(config.chat_template, bos, eos)
        except ParleyError:
            self._llm.close()
            raise
        self._stops = [eos] if eos else []
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        # llama.cpp offloads the output layer too (its log says "offloaded 31/31 layers to GPU"),
        # and nothing at all when built without a GPU backend.
        layers = llama_cpp.llama_model_n_layer(self._llm.model) + 1
        asked = layers if config.n_gpu_layers < 0 else min(config.n_gpu_layers, layers)
        offloaded = asked if llama_cpp.llama_supports_gpu_offload() else 0
        self._info = ModelInfo(
            name, str(path), self._llm.n_ctx(), self._chat_template.name, config.n_gpu_layers, offloaded, layers,
            str(config.lora_path or ""), config.lora_scale if config.lora_path else 0.0,
        )  # fmt: skip
        # The prompt of the last reply and the logits its first token was drawn from (/probs 1),
        # and the tokens it generated (a reply's text tokenized again can split differently).
        self._first: tuple[list[int], np.ndarray] = ([], np.zeros(0, dtype=np.float32))
        self._last: tuple[list[int], list[int]] = ([], [])
        self._stale = False  # the context's logits are not those of the cache's last token (after _restore)
        self._closed = False
        self._disk = (
            PromptCache(Path(platformdirs.user_cache_dir(APP_NAME)) / "prompts") if config.prompt_cache else None
        )
        stat = path.stat()
        self._state_of = dict(
            model=str(path.resolve()), size=stat.st_size, mtime=stat.st_mtime_ns, n_ctx=self._info.n_ctx,
            llama_cpp=llama_cpp.__version__, n_gpu_layers=config.n_gpu_layers, lora=str(config.lora_path or ""),
            flash_attn=flash,  # it stores the cache's values in another layout
        )  # fmt: skip
        self._on_disk: set[Path] = set()  # prompt starts this engine loaded from disk or wrote there
        self._writer: threading.Thread | None = None

    def _token_text(self, token: int) -> str:
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="replace") if token >= 0 else ""

    def _template(self, choice: str | None, bos: str, eos: str) -> ChatTemplate:
        metadata = self._llm.metadata
        if choice is None:
            if "tokenizer.chat_template" not in metadata:
                raise ModelLoadError(f"{self._llm.model_path} has no chat template; set chat_template in models.toml")
            return ChatTemplate(metadata["tokenizer.chat_template"], "gguf template", bos, eos)
        key = f"tokenizer.chat_template.{choice}"
        if key in metadata:
            return ChatTemplate(metadata[key], f"gguf template '{choice}'", bos, eos)
        path = Path(choice).expanduser()
        if path.is_file():
            return ChatTemplate(read_template(path), f"template file {path}", bos, eos)
        raise ConfigError(f"chat_template {clean(choice)!r} is neither a file nor a template in the GGUF")

    @property
    def info(self) -> ModelInfo:
        return self._info

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self._llm.detokenize(list(tokens)).decode("utf-8", errors="replace")

    def text_tokens(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def pieces(self, tokens: Sequence[int]) -> list[str]:
        # A token may hold part of a character's UTF-8 bytes: shown as \x escapes, exactly.
        return [self._llm.detokenize([t], special=True).decode("utf-8", errors="backslashreplace") for t in tokens]

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        return self._chat_template.render(messages, add_generation_prompt)

    def prompt_tokens(
        self, messages: Sequence[Message], add_generation_prompt: bool = True, open_last: bool = False
    ) -> list[int]:
        """The template's own text may hold control tokens (`<|im_start|>`); the messages may
        not: a reply or a pasted file that spells out `<|im_start|>system` stays plain text and
        never becomes a turn of its own. The template is rendered around a placeholder for each
        message, and each message's text is tokenized with control tokens off. `open_last` ends
        the prompt right after the last message's text (a reply to be continued)."""
        marks = [f"\x00{i}\x00" for i in range(len(messages))]  # NUL: no message can hold one
        placeholders: list[Message] = [{"role": m["role"], "content": k} for m, k in zip(messages, marks, strict=True)]
        rendered = self.render(placeholders, add_generation_prompt and not open_last)
        if any(rendered.count(mark) != 1 for mark in marks):
            if open_last:
                raise ParleyError("this model's chat template rewrites messages: a reply cannot be continued")
            # A template that rewrites or drops a message's text (rare): the whole text as it renders.
            return self.tokenize(self.render(messages, add_generation_prompt))
        pieces = _PLACEHOLDER.split(rendered)
        if open_last:  # leave off the template's end of turn after the last message
            pieces = pieces[: 2 * len(messages)]
        tokens: list[int] = []
        for index, piece in enumerate(pieces):
            if index % 2:  # a message's text
                tokens += self._llm.tokenize(messages[int(piece)]["content"].encode("utf-8"), add_bos=False,
                                             special=False)  # fmt: skip
            elif piece:  # the template's own text
                tokens += self.tokenize(piece)
        return tokens

    def stream(
        self,
        messages: Sequence[Message],
        params: Sampling,
        cancel: threading.Event,
        json_schema: dict[str, Any] | None = None,
        continue_reply: bool = False,
        logprobs: bool = False,
    ) -> Iterator[StreamEvent]:
        prompt = self.prompt_tokens(messages, open_last=continue_reply)
        if len(prompt) + params.max_tokens > self._info.n_ctx:
            raise ValueError(f"{len(prompt)} prompt tokens + {params.max_tokens} max_tokens exceed n_ctx")
        grammar = LlamaGrammar.from_json_schema(json.dumps(json_schema), verbose=False) if json_schema else None
        start = self._system_start(messages) if self._disk else []
        with self._lock:
            self._load_start(start)
            yield from self._generate(prompt, params, cancel, grammar, logprobs, start)

    def _generate(
        self, prompt: list[int], params: Sampling, cancel: threading.Event, grammar: LlamaGrammar | None,
        logprobs: bool, start: list[int] | None = None,
    ) -> Iterator[StreamEvent]:  # fmt: skip
        llm = self._llm
        # llama-cpp-python derives the seed from the previous one when none is given; we want
        # "no seed" to mean a fresh random one each time.
        llm.set_seed(params.seed if params.seed is not None else random.randrange(2**32))
        llama_cpp.llama_perf_context_reset(llm.ctx)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        scanner = StopScanner([*self._stops, *params.stop])
        generated: list[int] = []
        scores: list[TokenLogprob] = []
        n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        reported = 0  # tokens covered by the deltas yielded so far
        evaluated = 0
        finish: StopReason = "length"
        self._shift(prompt)
        self._fresh()
        if start:
            self._save_start(start)
        tokens = llm.generate(
            prompt,
            temp=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k,
            min_p=params.min_p,
            repeat_penalty=params.repeat_penalty,
            presence_penalty=params.presence_penalty,
            frequency_penalty=params.frequency_penalty,
            grammar=grammar,
        )
        try:
            for token in tokens:
                if not generated:  # the whole prompt has been evaluated before the first sample
                    evaluated = _evaluated_tokens(llm.ctx)
                    self._first = (prompt, _logits(llm, n_vocab))
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    finish = "stop"
                    break
                generated.append(token)
                if logprobs:  # the logits it was drawn from are still the context's last
                    row = self._first[1] if len(generated) == 1 else _logits(llm, n_vocab)
                    scores.append(TokenLogprob(token, self.pieces([token])[0], sampler_stages.logprob(row, token)))
                piece = llm.detokenize([token], prev_tokens=prompt + generated[:-1])
                text, stopped = scanner.feed(decoder.decode(piece))
                if text:
                    yield TextDelta(text, len(generated) - reported)
                    reported = len(generated)
                if stopped:
                    finish = "stop"
                    break
                if cancel.is_set():
                    finish = "cancelled"
                    break
                if len(generated) >= params.max_tokens:
                    break
        finally:
            tokens.close()
            self._last = (prompt, generated)
        if finish != "stop":
            rest = scanner.flush() + decoder.decode(b"", final=True)
            if rest:
                yield TextDelta(rest, len(generated) - reported)
        yield StreamEnd(finish, len(prompt), len(generated), evaluated, tuple(scores))

    def next_token(
        self, messages: Sequence[Message], reply: Sequence[int], params: Sampling, top: int, written: int | None = None
    ) -> NextToken:
        prompt = self.prompt_tokens(messages, open_last=True)
        if len(prompt) + len(reply) >= self._info.n_ctx:
            raise ParleyError(f"{len(prompt) + len(reply)} tokens do not fit the {self._info.n_ctx}-token window")
        with self._lock:
            if not reply and self._first[0] == prompt:
                # The reply's first token was drawn from the prompt's batch evaluation, which
                # evaluating its last token again alone would not reproduce: kept from then.
                logits = self._first[1]
            else:
                tokens = [*prompt, *reply]
                llm = self._llm
                # Looking back inside what the cache holds: cut it back for the lookup and put it
                # back after, so that looking further on costs no evaluation.
                back = len(tokens) < llm.n_tokens and self._cached(tokens) == len(tokens)
                saved = self._save() if back else None
                try:
                    self._evaluate(tokens, len(prompt))
                    logits = _logits(llm, llama_cpp.llama_vocab_n_tokens(self._vocab))
                finally:
                    if saved is not None:
                        self._restore(saved)

        def text(token: int) -> str:
            return self.pieces([token])[0]

        found = sampler_stages.stages(logits, reply, params, top, text)
        chosen = None
        if written is not None:
            chosen = Candidate(written, text(written), float(sampler_stages.softmax(logits)[written]))
        return NextToken(len(reply) + 1, found, chosen)

    def set_lora_scale(self, scale: float) -> None:
        if self._adapter is None:
            super().set_lora_scale(scale)
        with self._lock:
            self._scale_adapter(scale)
            self._llm.reset()  # type: ignore[no-untyped-call]  # the cache was computed with the old weights
            self._first = ([], np.zeros(0, dtype=np.float32))
            self._info = dataclasses.replace(self._info, lora_scale=scale)

    def _scale_adapter(self, scale: float) -> None:
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self._adapter)
        if llama_cpp.llama_set_adapters_lora(self._llm.ctx, adapters, 1, (ctypes.c_float * 1)(scale)):
            raise ParleyError(f"llama.cpp could not apply the LoRA adapter at scale {scale:g}")

    @contextlib.contextmanager
    def aside(self) -> Iterator[None]:
        with self._lock:
            saved = self._save()
        try:
            yield
        finally:
            with self._lock:
                self._restore(saved)

    def _save(self) -> _Saved:
        """The cache of the context's one sequence (a copy of its cells, a few MB), and what
        goes with it."""
        llm = self._llm
        size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
        cells = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm.ctx, cells, size, 0)
        return _Saved(cells, written, llm.n_tokens, llm.input_ids.copy(), self._first, self._last)

    def _restore(self, saved: _Saved) -> None:
        llm = self._llm
        memory = llama_cpp.llama_get_memory(llm.ctx)
        llama_cpp.llama_memory_seq_rm(memory, 0, -1, -1)
        llm.n_tokens = 0  # what the cache holds, if putting it back fails: nothing
        if (
            saved.written
            and llama_cpp.llama_state_seq_set_data(llm.ctx, saved.cells, saved.written, 0) == saved.written
        ):
            llm.n_tokens, llm.input_ids = saved.n_tokens, saved.input_ids
        self._first, self._last = saved.first, saved.last
        self._stale = True  # the context's logits are of whatever ran since, not of the cache's end

    def _shift(self, prompt: list[int]) -> None:
        """Context shift, as llama.cpp's own CLI does it: when the conversation's oldest turns
        left the window (chat.context), the cache still holds the turns after them, at later
        positions. Those are moved down over the dropped ones (llama.cpp re-rotates their keys)
        instead of being evaluated again, which took seconds a truncation. The keys come out
        within rounding of a fresh evaluation, not bit for bit (the same as llama-cli's)."""
        llm = self._llm
        keep = self._cached(prompt)  # the system prompt, at least, is where it was
        want = np.asarray(prompt[keep : keep + SHIFT_MATCH], dtype=np.intc)
        if len(want) < SHIFT_MATCH or keep >= llm.n_tokens:
            return
        memory = llama_cpp.llama_get_memory(llm.ctx)
        cached = llm.input_ids[: llm.n_tokens]
        starts = np.nonzero(cached[keep + 1 : llm.n_tokens - SHIFT_MATCH + 1] == want[0])[0] + keep + 1
        start = next((int(s) for s in starts if np.array_equal(cached[s : s + SHIFT_MATCH], want)), None)
        # Only turns of the last reply's prompt can have left: a reply that repeats itself must not
        # be taken for one (its tokens are evaluated again where the new prompt parts from them).
        if start is None or start > len(self._last[0]) or not llama_cpp.llama_memory_can_shift(memory):
            return
        gap = start - keep
        llama_cpp.llama_memory_seq_rm(memory, 0, keep, start)
        llama_cpp.llama_memory_seq_add(memory, 0, start, -1, -gap)
        moved = cached[start:].copy()
        llm.input_ids[keep : keep + len(moved)] = moved
        llm.n_tokens -= gap
        self._stale = True  # the context's logits were computed before the move

    def _fresh(self) -> None:
        """Before llama-cpp-python generates: after a restore, the cache's last token is
        evaluated again (alone, as a reply's token was), for the logits it would otherwise take
        from the context as they are."""
        llm = self._llm
        if self._stale and llm.n_tokens:
            llm.n_tokens -= 1
            llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llm.ctx), 0, llm.n_tokens, -1)
        self._stale = False

    def reply_tokens(self, messages: Sequence[Message], text: str) -> list[int]:
        prompt, generated = self._last
        if generated and self.detokenize(generated) == text and prompt == self.prompt_tokens(messages, open_last=True):
            return list(generated)
        return self.text_tokens(text)

    def _cached(self, tokens: list[int]) -> int:
        """How many of `tokens`, from the first, the cache holds."""
        llm = self._llm
        common = min(llm.n_tokens, len(tokens))
        differ = np.nonzero(llm.input_ids[:common] != np.asarray(tokens[:common], dtype=np.intc))[0]
        return int(differ[0]) if len(differ) else common

    def _evaluate(self, tokens: list[int], batched: int) -> None:
        """Bring the context to `tokens`, with the logits after the last one, evaluating what the
        cache does not hold as generation does: the first `batched` (the prompt) in batches, the
        rest (a reply) a token at a time. llama.cpp's batched and one-token evaluations round
        differently (by up to a few tenths in log-probability on a 4-bit model), so this is what
        makes /probs inside a reply the numbers generation drew from."""
        llm = self._llm
        same = self._cached(tokens)
        if same == len(tokens) == llm.n_tokens and not self._stale:
            return  # the last evaluation ended here: the context holds the logits wanted
        self._stale = False  # evaluated below
        keep = min(same, len(tokens) - 1)  # at least the last token is evaluated again, for its logits
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llm.ctx), 0, keep, -1)
        llm.n_tokens = keep
        if keep < batched:
            llm.eval(tokens[keep:batched])
        for token in tokens[max(keep, batched) :]:
            llm.eval([token])

    def warm(self, messages: Sequence[Message]) -> None:
        """Evaluate the prompt's start while the user types, as llama-cli warms up: the first
        reply then evaluates only the new message. The start is what two prompts with different
        user messages share, so nothing of a message is guessed."""
        with self._lock:  # a reply asked for meanwhile waits, and reuses what was evaluated
            if self._closed:  # the session ended before the warm-up began: the model is freed
                return
            system = self._system_start(messages) if self._disk else []
            self._load_start(system)
            self._fresh()
            self._save_start(system)
            tokens = self._llm.generate(self._shared_start(messages), temp=0.0)
            try:
                next(tokens)  # the prompt is evaluated before the first token is sampled
            finally:
                tokens.close()

    def _shared_start(self, messages: Sequence[Message]) -> list[int]:
        """The tokens every prompt that goes on from `messages` with a user message begins with:
        two prompts with different messages, up to where they part."""
        one, other = (self.prompt_tokens([*messages, {"role": "user", "content": text}]) for text in ("a", "b"))
        return one[: next((i for i, (a, b) in enumerate(zip(one, other, strict=False)) if a != b), len(one))]

    def _system_start(self, messages: Sequence[Message]) -> list[int]:
        """The shared start of the conversations that begin with `messages`' system messages:
        what the prompt cache keeps (never anything a user wrote)."""
        return self._shared_start(list(itertools.takewhile(lambda m: m["role"] == "system", messages)))

    def _load_start(self, start: list[int]) -> None:
        """Put the cache on disk for `start` into the context, unless the context holds it."""
        llm = self._llm
        if self._disk is None or len(start) < MIN_TOKENS or self._cached(start) == len(start):
            return
        owner = self._owner()
        state = self._disk.load(owner, start)
        if state is None:
            return
        memory = llama_cpp.llama_get_memory(llm.ctx)
        llama_cpp.llama_memory_seq_rm(memory, 0, -1, -1)
        llm.n_tokens = 0  # what the cache holds if the state is refused: nothing
        cells = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_seq_set_data(llm.ctx, cells, len(state), 0) != len(state):
            llama_cpp.llama_memory_seq_rm(memory, 0, -1, -1)
            return
        llm.input_ids[: len(start)] = start
        llm.n_tokens = len(start)
        self._stale = True  # the context's logits are not the start's: see _fresh
        self._on_disk.add(self._disk.path(owner, start))

    def _save_start(self, start: list[int]) -> None:
        """Evaluate `start` alone (the prompt's rest follows in generation) and write the
        context's state to disk in the background, unless this engine loaded or wrote it. Only
        when the context holds no more than the start: a conversation's cache is not cut back
        for it, and no user's message goes into the file."""
        llm = self._llm
        if self._disk is None or len(start) < MIN_TOKENS or llm.n_tokens > len(start):
            return
        owner = self._owner()
        path = self._disk.path(owner, start)
        if path in self._on_disk:  # loaded from there, or written: once (a bad file is replaced)
            return
        self._on_disk.add(path)
        self._evaluate(start, len(start))
        size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
        cells = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm.ctx, cells, size, 0)
        state = bytes(memoryview(cells)[:written])
        self._writer = threading.Thread(
            target=self._disk.save, args=(owner, start, state), name="prompt-cache", daemon=True
        )
        self._writer.start()

    def _owner(self) -> str:
        return identity(**self._state_of, lora_scale=self._info.lora_scale)

    def forget_cache(self) -> None:
        """Drop the KV cache: the next prompt is evaluated whole (benchmarks compare cold and warm)."""
        self._llm.reset()  # type: ignore[no-untyped-call]

    def close(self) -> None:
        # Never free the model under a running warm-up or reply (llama.cpp would crash); one
        # that does not end in time is left to the process's exit.
        if self._writer is not None:
            self._writer.join(timeout=10)  # the prompt cache's file is written whole, or not at all
        if self._lock.acquire(timeout=10):
            try:
                self._closed = True  # a warm-up thread that starts later must not touch it
                self._llm.close()
            finally:
                self._lock.release()


@dataclasses.dataclass(frozen=True)
class _Saved:
    """A copy of the context's cache (LlamaEngine._save)."""

    cells: Any  # the sequence's state, as llama.cpp wrote it
    written: int
    n_tokens: int
    input_ids: np.ndarray
    first: tuple[list[int], np.ndarray]
    last: tuple[list[int], list[int]]


def _logits(llm: llama_cpp.Llama, n_vocab: int) -> np.ndarray:
    """A copy of the logits after the context's last evaluated token."""
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,)).copy()


_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


def _evaluated_tokens(ctx: llama_cpp.llama_context_p) -> int:
    """Tokens decoded since the last perf reset, as llama.cpp itself counted them.

    llama.cpp reports each counter as max(1, n) to avoid divisions by zero; a counter whose
    time is zero really counted nothing.
    """
    perf = llama_cpp.llama_perf_context(ctx)
    return (perf.n_p_eval if perf.t_p_eval_ms > 0 else 0) + (perf.n_eval if perf.t_eval_ms > 0 else 0)
