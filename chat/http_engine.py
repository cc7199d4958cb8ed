"""The HTTP engine: a model served elsewhere, through the OpenAI-compatible chat API (llama.cpp's
llama-server, vLLM, Ollama, llama-cpp-python's server, or any other that speaks it).

Replies stream as server-sent events; cancelling closes the connection, which is how these
servers learn to stop generating. Token counts are exact where the server can say what it
evaluates:
- llama.cpp's server renders the messages with the model's template (`/apply-template`) and
  tokenizes the result (`/tokenize`);
- vLLM tokenizes the messages themselves (`/tokenize` with `messages`);
- a server that tokenizes text but does not render messages (llama-cpp-python's
  `/extras/tokenize`) is exact when models.toml gives the model's template (`chat_template`):
  Parley renders it as llama-cpp-python does.
Elsewhere counts are approximate, over-estimated on purpose (a byte in three of a ChatML-style
rendering is counted as a token), and labelled so. When the server reports usage, each reply
checks the count; a server that counted otherwise turns the label to approximate.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import math
import os
import random
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from chat.chat_template import ChatTemplate, chatml, read_template
from chat.config import ModelConfig
from chat.engine import Engine, Message, ModelInfo, StopReason, StreamEnd, StreamEvent, TextDelta, TokenLogprob
from chat.errors import ConfigError, ModelLoadError, ParleyError
from chat.reasoning import CLOSE, OPEN
from chat.sampling import Sampling
from chat.sanitize import clean

Kind = Literal["llama.cpp", "vllm", "llama-cpp-python", "ollama", "openai"]

# Sampling parameters beyond OpenAI's own that each kind of server takes, by Parley's name: the
# name the server knows it by. The rest are not sent, and the user is told so once.
EXTRA_PARAMS: dict[Kind, dict[str, str]] = {
    "llama.cpp": {"top_k": "top_k", "min_p": "min_p", "repeat_penalty": "repeat_penalty"},
    "llama-cpp-python": {"top_k": "top_k", "min_p": "min_p", "repeat_penalty": "repeat_penalty"},
    "vllm": {"top_k": "top_k", "min_p": "min_p", "repeat_penalty": "repetition_penalty"},
    "ollama": {},
    "openai": {},
}
DONE: dict[str, Any] = {"done": True}  # stands for the stream's `data: [DONE]` among its chunks
LONGEST_LINE = 1 << 20  # an event line longer than this is not a server speaking this API
LORA_HINT = "llama-server --lora, vLLM --lora-modules"
BYTES_PER_TOKEN = 3  # approximate counts: fewer bytes per token than English text has (about 4)


class HttpEngine(Engine):
    def __init__(self, name: str, config: ModelConfig) -> None:
        try:
            self._connect(name, config)
        except ConfigError:
            raise
        except ParleyError as err:  # the server is down, refuses, or answers nonsense: not loaded
            raise ModelLoadError(str(err)) from None

    def _connect(self, name: str, config: ModelConfig) -> None:
        assert config.url is not None
        self._server = Server(name, config)
        try:
            listed = self._server.get("/models")
        except ServerError as err:
            if err.status != 404:
                raise
            raise ParleyError(f"{err} (url should be the server's OpenAI API, which usually ends in /v1)") from None
        models = [m for m in listed.get("data", []) if isinstance(m, dict)] if isinstance(listed, dict) else []
        ids = [str(m.get("id")) for m in models]
        if config.model is not None and ids and config.model not in ids:
            served = ", ".join(clean(i) for i in ids[:5])
            raise ConfigError(f"model '{name}': {config.url} does not serve '{config.model}' (it serves: {served})")
        self._model = config.model or (ids[0] if ids else "")
        self._kind, props = self._server.kind()
        self._counts: dict[str, int] = {}  # the last counts asked for: the context code asks often
        self._template: ChatTemplate | None = None  # set when Parley renders the prompt itself
        if config.chat_template is not None:
            self._template = ChatTemplate(read_template(Path(config.chat_template).expanduser()), "chat_template")
        exact = self._kind in ("llama.cpp", "vllm") or (self._kind == "llama-cpp-python" and self._template is not None)
        served_n_ctx = _served_n_ctx(self._kind, props, models, self._model)
        n_ctx = served_n_ctx or config.n_ctx
        if "n_ctx" in config.model_fields_set:
            n_ctx = min(n_ctx, config.n_ctx)  # never more than the server holds
        notes = []
        if served_n_ctx is None and "n_ctx" not in config.model_fields_set:
            notes.append(f"{name}: the server does not say how large its context window is: {n_ctx} tokens assumed "
                         "(set n_ctx in models.toml to the server's)")  # fmt: skip
        if exact and (mismatch := self._counts_differ()):
            exact = False
            notes.append(f"{name}: token counts are approximate, over-estimated: {mismatch}")
        elif not exact:
            hint = ""
            if self._kind == "llama-cpp-python":
                hint = " (chat_template = the model's GGUF or template file makes them exact)"
            notes.append(f"{name}: token counts are approximate, over-estimated: this server does not say how it "
                         f"tokenizes a conversation{hint}")  # fmt: skip
        unsent = [p for p in ("top_k", "min_p", "repeat_penalty") if p not in EXTRA_PARAMS[self._kind]]
        if unsent:
            notes.append(f"{name}: {', '.join(unsent)} not sent ({self._kind} server's API has no such setting)")
        self._info = ModelInfo(
            name, config.url + (f" ({self._model})" if self._model else ""), n_ctx,
            f"{self._kind} server" + (", template from chat_template" if self._template else ""),
            counts="exact" if exact else "approximate", notes=tuple(notes),
        )  # fmt: skip

    @property
    def info(self) -> ModelInfo:
        return self._info

    def _counts_differ(self) -> str:
        """Why Parley's count of a small conversation is not the server's, or "" when they agree
        (or the server does not say): one reply of one token, asked for at load."""
        sample: list[Message] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say yes."}]
        body = {"model": self._model, "messages": sample, "max_tokens": 1, "temperature": 0.0, "stream": False}
        usage = self._server.post("/chat/completions", body).get("usage")
        theirs = _int(usage.get("prompt_tokens")) if isinstance(usage, dict) else None
        ours = self._count(sample, add_generation_prompt=True, exact=True)
        if theirs is None or theirs == ours:
            return ""
        source = "the template in chat_template" if self._template is not None else "the server's tokenizer endpoint"
        return f"{source} gives {ours} tokens for a conversation the server counts as {theirs}"

    @property
    def exact(self) -> bool:
        return self._info.counts == "exact"

    # --- tokens -------------------------------------------------------------------------------

    def count_tokens(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> int:
        key = json.dumps([list(messages), add_generation_prompt, self.exact])
        if key not in self._counts:
            if len(self._counts) > 256:
                self._counts.clear()
            self._counts[key] = self._count(messages, add_generation_prompt, self.exact)
        return self._counts[key]

    def _count(self, messages: Sequence[Message], add_generation_prompt: bool, exact: bool) -> int:
        if not exact:
            return math.ceil(len(chatml(messages, add_generation_prompt).encode("utf-8")) / BYTES_PER_TOKEN)
        return len(self.prompt_tokens(messages, add_generation_prompt))

    def prompt_tokens(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> list[int]:
        if self._kind == "vllm":  # it tokenizes the messages themselves
            body = {"model": self._model, "messages": list(messages), "add_generation_prompt": add_generation_prompt}
            return [int(t) for t in self._server.post("/tokenize", body, root=True)["tokens"]]
        return self.tokenize(self.render(messages, add_generation_prompt))

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        if self._template is not None:
            return str(self._template.render(messages, add_generation_prompt))
        if self._kind == "llama.cpp":
            body = {"messages": list(messages), "add_generation_prompt": add_generation_prompt}
            return str(self._server.post("/apply-template", body, root=True)["prompt"])
        if self._kind == "vllm":
            return self.detokenize(self.prompt_tokens(messages, add_generation_prompt))
        return chatml(messages, add_generation_prompt)  # what such a template looks like, no more

    def tokenize(self, text: str) -> list[int]:
        return self._tokenize(text, special=True)

    def text_tokens(self, text: str) -> list[int]:
        return self._tokenize(text, special=False)

    def _tokenize(self, text: str, special: bool) -> list[int]:
        if self._kind == "llama.cpp":
            body: dict[str, Any] = {"content": text, "add_special": False, "parse_special": special}
            found = self._server.post("/tokenize", body, root=True)["tokens"]
        elif self._kind == "vllm":
            body = {"model": self._model, "prompt": text, "add_special_tokens": False}
            found = self._server.post("/tokenize", body, root=True)["tokens"]
        elif self._kind == "llama-cpp-python":  # control tokens are always read as such there
            found = self._server.post("/extras/tokenize", {"input": text, "model": self._model}, root=True)["tokens"]
        else:
            raise ParleyError(f"the {self._kind} server at {self._server.url} does not give its tokenizer")
        return [int(t["id"]) if isinstance(t, dict) else int(t) for t in found]

    def detokenize(self, tokens: Sequence[int]) -> str:
        if self._kind == "llama.cpp":
            return str(self._server.post("/detokenize", {"tokens": list(tokens)}, root=True)["content"])
        if self._kind == "vllm":
            return str(self._server.post("/detokenize", {"model": self._model, "tokens": list(tokens)}, root=True)
                       ["prompt"])  # fmt: skip
        if self._kind == "llama-cpp-python":
            return str(self._server.post("/extras/detokenize", {"tokens": list(tokens), "model": self._model},
                                         root=True)["text"])  # fmt: skip
        raise ParleyError(f"the {self._kind} server at {self._server.url} does not give its tokenizer")

    def set_lora_scale(self, scale: float) -> None:
        raise ParleyError(f"a served model's LoRA adapters are the server's ({LORA_HINT})")

    # --- replies ------------------------------------------------------------------------------

    def stream(
        self,
        messages: Sequence[Message],
        params: Sampling,
        cancel: threading.Event,
        json_schema: dict[str, Any] | None = None,
        continue_reply: bool = False,
        logprobs: bool = False,
    ) -> Iterator[StreamEvent]:
        counted = self.count_tokens(messages, add_generation_prompt=not continue_reply)
        if counted + params.max_tokens > self._info.n_ctx:
            raise ParleyError(f"{counted} prompt tokens + {params.max_tokens} max_tokens exceed n_ctx")
        path, body = self._request(messages, params, json_schema, continue_reply, logprobs)
        reply = Reply()
        for chunk in self._server.events(path, body, cancel):
            text = reply.take(chunk)
            if text:
                yield TextDelta(text)
        if cancel.is_set():
            reply.finish = "cancelled"
        elif reply.finish is None:
            raise ParleyError(
                f"server {self._server.url}: the stream closed before the reply ended (its log may say why)"
            )
        rest = reply.close()
        if rest:
            yield TextDelta(rest, 0)
        prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else counted
        if reply.prompt_tokens is not None and reply.prompt_tokens != counted and self.exact and not continue_reply:
            # The server evaluated something else than was counted: say so from now on.
            self._info = dataclasses.replace(self._info, counts="approximate")
        completion = reply.completion_tokens if reply.completion_tokens is not None else reply.pieces
        evaluated = reply.evaluated if reply.evaluated is not None else prompt_tokens
        yield StreamEnd(reply.finish or "stop", prompt_tokens, completion, evaluated, tuple(reply.logprobs))

    def _request(
        self, messages: Sequence[Message], params: Sampling, json_schema: dict[str, Any] | None,
        continue_reply: bool, logprobs: bool,
    ) -> tuple[str, dict[str, Any]]:  # fmt: skip
        """The endpoint and the request body for a reply."""
        body: dict[str, Any] = {
            "model": self._model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "presence_penalty": params.presence_penalty,
            "frequency_penalty": params.frequency_penalty,
            # No seed would let some servers reuse the last one: "none" means a new one each time.
            "seed": params.seed if params.seed is not None else random.randrange(2**31),
        }
        for name, theirs in EXTRA_PARAMS[self._kind].items():
            body[theirs] = getattr(params, name)
        if params.stop:
            body["stop"] = list(params.stop)
        if logprobs:  # llama-cpp-python's server gives them only when asked for a top list too
            body["logprobs"], body["top_logprobs"] = True, 1
        if json_schema is not None:
            if self._kind in ("llama.cpp", "llama-cpp-python"):
                body["response_format"] = {"type": "json_object", "schema": json_schema}
            else:
                named = {"name": "reply", "schema": json_schema}
                body["response_format"] = {"type": "json_schema", "json_schema": named}
        if not continue_reply:
            return "/chat/completions", {**body, "messages": list(messages)}
        if self._template is not None:  # the prompt rendered here, left open after the reply so far
            prompt = self._template.render(messages, add_generation_prompt=False)
            end = prompt.rfind(messages[-1]["content"]) + len(messages[-1]["content"])
            return "/completions", {**body, "prompt": prompt[:end]}
        if self._kind == "vllm":
            return "/chat/completions", {**body, "messages": list(messages), "continue_final_message": True,
                                         "add_generation_prompt": False}  # fmt: skip
        if self._kind == "llama.cpp":  # a last message of the assistant's is a prefill there
            return "/chat/completions", {**body, "messages": list(messages)}
        raise ParleyError(f"the {self._kind} server cannot continue a reply (chat_template would let Parley do it)")

    def close(self) -> None:
        self._counts.clear()


@dataclasses.dataclass
class Reply:
    """What the stream's chunks said: the text, then how it ended and what the server counted.
    A server's thinking (`reasoning_content`) becomes a <think> block, as a local model writes it."""

    finish: StopReason | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    evaluated: int | None = None
    pieces: int = 0
    thinking: bool = False
    logprobs: list[TokenLogprob] = dataclasses.field(default_factory=list)

    def take(self, chunk: dict[str, Any]) -> str:
        if chunk is DONE:  # a server that named no finish reason still ended the reply
            self.finish = self.finish or "stop"
            return ""
        if isinstance(chunk.get("error"), dict | str):
            raise ParleyError(f"the server failed mid-reply: {_message(chunk)}")
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.prompt_tokens = _int(usage.get("prompt_tokens"))
            self.completion_tokens = _int(usage.get("completion_tokens"))
        timings = chunk.get("timings")  # llama.cpp's server: what it evaluated, the rest was cached
        if isinstance(timings, dict) and _int(timings.get("prompt_n")) is not None:
            self.evaluated = _int(timings.get("prompt_n"))
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        if choice.get("finish_reason") is not None:
            self.finish = "length" if choice["finish_reason"] == "length" else "stop"
        delta: dict[str, Any] = choice["delta"] if isinstance(choice.get("delta"), dict) else choice  # or completions
        text = ""
        thought = delta.get("reasoning_content")
        if isinstance(thought, str) and thought:
            text += ("" if self.thinking else OPEN) + thought
            self.thinking = True
        content = delta.get("content", delta.get("text"))
        if isinstance(content, str) and content:
            text += self.close() + content
        for scored in (choice.get("logprobs") or {}).get("content") or []:
            if isinstance(scored, dict) and isinstance(scored.get("logprob"), int | float):
                self.logprobs.append(TokenLogprob(-1, str(scored.get("token", "")), float(scored["logprob"])))
        self.pieces += bool(text)
        return text

    def close(self) -> str:
        """The end of a thinking block, if one is open."""
        was, self.thinking = self.thinking, False
        return CLOSE if was else ""


class ServerError(ParleyError):
    """The server answered with an HTTP error `status`."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Server:
    """HTTP to one server: JSON requests, streamed events, and every failure as one line."""

    def __init__(self, name: str, config: ModelConfig) -> None:
        assert config.url is not None
        self.url = config.url.rstrip("/")
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.netloc
        self._base = parts.path  # ".../v1": the OpenAI API; the server's own endpoints sit at its root
        self._root = self._base.removesuffix("/v1")
        self._connect_s, self._read_s = config.connect_timeout_s, config.read_timeout_s
        self._headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if config.api_key_env is not None:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ConfigError(f"model '{name}': ${config.api_key_env} is not set (api_key_env)")
            self._headers["Authorization"] = f"Bearer {key}"

    def kind(self) -> tuple[Kind, dict[str, Any]]:
        """Which server this is, by the endpoints it has; and what llama.cpp's says of itself."""
        props = self._probe("GET", "/props")
        if isinstance(props, dict) and "default_generation_settings" in props:
            return "llama.cpp", props
        api = self._probe("GET", "/openapi.json")
        paths = api.get("paths", {}) if isinstance(api, dict) else {}
        if "/extras/tokenize" in paths:
            return "llama-cpp-python", {}
        if "/tokenize" in paths:
            return "vllm", {}
        if isinstance(self._probe("GET", "/api/version"), dict):
            return "ollama", {}
        return "openai", {}

    def _probe(self, method: str, path: str) -> Any:
        """An endpoint's JSON, or None when the server has no such endpoint."""
        try:
            return self._json(method, path, None, root=True)
        except ParleyError:
            return None

    def get(self, path: str) -> Any:
        return self._json("GET", path, None, root=False)

    def post(self, path: str, body: dict[str, Any], root: bool = False) -> Any:
        found = self._json("POST", path, body, root=root)
        if not isinstance(found, dict):
            raise ParleyError(f"server {self.url}: {path} answered something else than a JSON object")
        return found

    def _json(self, method: str, path: str, body: dict[str, Any] | None, root: bool) -> Any:
        connection, response, _ = self._open(method, path, body, root)
        try:
            data = response.read(LONGEST_LINE * 16)
        except (OSError, http.client.HTTPException) as err:
            raise self._failure(err) from None
        finally:
            connection.close()
        try:
            return json.loads(data)
        except ValueError:
            raise ParleyError(f"server {self.url}: {path} did not answer with JSON") from None

    def events(self, path: str, body: dict[str, Any], cancel: threading.Event) -> Iterator[dict[str, Any]]:
        """The JSON chunks of a streamed answer, until `[DONE]`, the end of the stream or `cancel`
        (which closes the connection: the server stops generating)."""
        connection, response, sock = self._open("POST", path, body, root=False)
        finished = threading.Event()

        def hang_up() -> None:
            while not finished.wait(0.05):
                if cancel.is_set():
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    return

        threading.Thread(target=hang_up, name="http-cancel", daemon=True).start()
        try:
            if "text/event-stream" not in response.getheader("Content-Type", ""):
                yield _whole(self._read_json(response, path))  # a server that does not stream
                return
            while not cancel.is_set():
                try:
                    line = response.readline(LONGEST_LINE)
                except (OSError, http.client.HTTPException) as err:
                    if cancel.is_set():
                        return
                    raise self._failure(err) from None
                if not line:
                    return  # the stream ended; whether the reply did, the chunks said
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue  # blank lines between events, comments (pings), event names
                data = line[5:].strip()
                if data == b"[DONE]":
                    yield DONE  # the end the protocol marks, which a cut connection never sends
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise ParleyError(f"server {self.url}: a streamed event is not JSON") from None
                if isinstance(chunk, dict):
                    yield chunk
        finally:
            finished.set()
            connection.close()

    def _read_json(self, response: http.client.HTTPResponse, path: str) -> Any:
        try:
            return json.loads(response.read(LONGEST_LINE * 16))
        except (OSError, http.client.HTTPException) as err:
            raise self._failure(err) from None
        except ValueError:
            raise ParleyError(f"server {self.url}: {path} did not answer with JSON") from None

    def _open(
        self, method: str, path: str, body: dict[str, Any] | None, root: bool
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, socket.socket]:
        """Send a request; the response once its status says it succeeded, and its socket (the
        connection forgets it once the response is the last on it)."""
        target = (self._root if root else self._base) + path
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(self._host, timeout=self._connect_s,
                                                     context=ssl.create_default_context())  # fmt: skip
        else:
            connection = http.client.HTTPConnection(self._host, timeout=self._connect_s)
        try:
            connection.connect()
            sock = connection.sock  # kept: the connection forgets it after the last response
            sock.settimeout(self._read_s)  # from now on: waiting for the server's bytes
            payload = None if body is None else json.dumps(body).encode("utf-8")
            connection.request(method, target, payload, self._headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as err:
            connection.close()
            raise self._failure(err) from None
        if response.status >= 400:
            try:
                detail = _message(json.loads(response.read(65536) or b"null"))
            except (OSError, http.client.HTTPException, ValueError):
                detail = ""
            connection.close()
            hint = " (check the key in api_key_env)" if response.status in (401, 403) else ""
            reason = clean(response.reason or "")[:60]
            detail = f": {detail}" if detail else ""
            raise ServerError(f"server {self.url}: HTTP {response.status} {reason}{hint}{detail}", response.status)
        return connection, response, sock

    def _failure(self, err: BaseException) -> ParleyError:
        """A network failure, in words."""
        if isinstance(err, ConnectionRefusedError):
            why = "connection refused (is the server running?)"
        elif isinstance(err, TimeoutError):
            why = f"no answer within {self._read_s:g} s (read_timeout_s)"
        elif isinstance(err, socket.gaierror):
            why = f"unknown host {clean(self._host)}"
        elif isinstance(err, ssl.SSLCertVerificationError):  # a private CA is one the system does not know
            why = f"TLS failed: {clean(str(err.reason))} (a private CA: point SSL_CERT_FILE at its certificate)"
        elif isinstance(err, ssl.SSLError):
            why = f"TLS failed: {clean(str(err.reason or err))}"
        elif isinstance(err, http.client.IncompleteRead | http.client.RemoteDisconnected | ConnectionResetError):
            why = "the connection closed in the middle of the answer"
        else:
            why = clean(f"{type(err).__name__}: {err}")
        return ParleyError(f"server {self.url}: {why}")


def _whole(answer: Any) -> dict[str, Any]:
    """A whole (not streamed) answer as the one chunk of a stream."""
    if not isinstance(answer, dict):
        return {}
    choices = answer.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict) and "message" in choices[0]:
        choices = [{**choices[0], "delta": choices[0]["message"]}]
    return {**answer, "choices": choices}


def _served_n_ctx(kind: Kind, props: dict[str, Any], models: list[dict[str, Any]], model: str) -> int | None:
    """The context window the server says it has, if it says."""
    if kind == "llama.cpp":
        settings = props.get("default_generation_settings")
        return _int(settings.get("n_ctx") if isinstance(settings, dict) else None) or _int(props.get("n_ctx"))
    for entry in models:  # vLLM lists it with the model
        if entry.get("id") == model and _int(entry.get("max_model_len")):
            return _int(entry.get("max_model_len"))
    return None


def _message(answer: Any) -> str:
    """The error message in a server's JSON error, on one line and short."""
    if isinstance(answer, dict):
        inner = answer.get("error", answer.get("detail", answer.get("message", "")))
        if isinstance(inner, dict):
            inner = inner.get("message", "")
        elif isinstance(inner, list) and inner and isinstance(inner[0], dict):  # FastAPI's validation errors
            inner = inner[0].get("msg", "")
        answer = inner
    text = " ".join(clean(str(answer or "")).split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
