"""A small OpenAI-compatible server on 127.0.0.1 for the HTTP engine's unit tests: it answers as
llama.cpp's server, vLLM or a plain OpenAI-style server answers (the JSON shapes of their
documented endpoints), and misbehaves on request (HTTP errors, silence, a stream cut short). The
integration tests use a real server (llama-cpp-python's) instead: tests/test_server.py."""

from __future__ import annotations

import http.server
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.hub_server import running


@dataclass
class Behaviour:
    kind: str = "llama.cpp"  # "llama.cpp", "vllm" or "openai" (no tokenizer, no template)
    pieces: tuple[str, ...] = ("Hello", " there", ".")  # the reply, streamed in these pieces
    reasoning: tuple[str, ...] = ()  # streamed as reasoning_content first
    finish: str = "stop"  # "": no chunk names a finish reason (the stream still ends with [DONE])
    usage_prompt: int | None = None  # prompt_tokens reported in usage; None: the count of the template
    status: int = 200  # for /chat/completions
    error: str = "model exploded"
    delay_s: float = 0.0  # before each piece
    cut_after: int | None = None  # close the connection after this many pieces, no end
    stream: bool = True  # False: answer with one JSON object although streaming was asked
    n_ctx: int = 4096
    bodies: list[dict[str, Any]] = field(default_factory=list)  # the requests' bodies, by path
    paths: list[str] = field(default_factory=list)
    key: str | None = None  # the API key required, if any


def tokens(text: str) -> list[int]:
    """The fake tokenizer: a token per space-separated word, its id the word's length."""
    return [len(word) for word in text.split(" ")]


def template(messages: Sequence[Mapping[str, Any]], add: bool) -> str:
    text = "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages)
    return text + ("<assistant>" if add else "")


class Handler(http.server.BaseHTTPRequestHandler):
    behaviour = Behaviour()
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _authorised(self) -> bool:
        key = self.behaviour.key
        if key is not None and self.headers.get("Authorization") != f"Bearer {key}":
            self._send(401, {"error": {"message": "invalid api key", "type": "auth"}})
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802
        b = self.behaviour
        b.paths.append(self.path)
        if not self._authorised():
            return
        if self.path == "/v1/models":
            entry: dict[str, Any] = {"id": "served-model", "object": "model"}
            if b.kind == "vllm":
                entry["max_model_len"] = b.n_ctx
            self._send(200, {"object": "list", "data": [entry]})
        elif self.path == "/props" and b.kind == "llama.cpp":
            self._send(200, {"default_generation_settings": {"n_ctx": b.n_ctx}, "chat_template": "..."})
        elif self.path == "/openapi.json" and b.kind == "vllm":
            self._send(200, {"paths": {"/tokenize": {}, "/detokenize": {}, "/v1/chat/completions": {}}})
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self) -> None:  # noqa: N802
        b = self.behaviour
        b.paths.append(self.path)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        b.bodies.append({"path": self.path, **body})
        if not self._authorised():
            return
        if self.path == "/apply-template" and b.kind == "llama.cpp":
            self._send(200, {"prompt": template(body["messages"], body.get("add_generation_prompt", True))})
        elif self.path == "/tokenize" and b.kind == "llama.cpp":
            self._send(200, {"tokens": tokens(body["content"])})
        elif self.path == "/tokenize" and b.kind == "vllm":
            text = template(body["messages"], body["add_generation_prompt"]) if "messages" in body else body["prompt"]
            found = tokens(text)
            self._send(200, {"count": len(found), "max_model_len": b.n_ctx, "tokens": found})
        elif self.path == "/v1/chat/completions":
            self._complete(body)
        else:
            self._send(404, {"detail": "Not Found"})

    def _complete(self, body: dict[str, Any]) -> None:
        b = self.behaviour
        if b.status != 200:
            self._send(b.status, {"error": {"message": b.error, "code": b.status}})
            return
        prompt = len(tokens(template(body["messages"], True)))
        usage = {"prompt_tokens": b.usage_prompt or prompt, "completion_tokens": len(b.pieces)}
        if not b.stream or not body.get("stream"):
            message = {"role": "assistant", "content": "".join(b.pieces)}
            self._send(200, {"choices": [{"message": message, "finish_reason": b.finish}], "usage": usage})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()

        def event(data: Any) -> None:
            self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
            self.wfile.flush()

        self.wfile.write(b": ping\n\n")
        for thought in b.reasoning:
            event({"choices": [{"delta": {"reasoning_content": thought}, "finish_reason": None}]})
        for number, piece in enumerate(b.pieces):
            if b.cut_after is not None and number >= b.cut_after:
                return  # the connection closes with the reply unfinished
            time.sleep(b.delay_s)
            event({"choices": [{"delta": {"content": piece}, "finish_reason": None}]})
        if b.finish:
            event({"choices": [{"delta": {}, "finish_reason": b.finish}]})
        event({"choices": [], "usage": usage, "timings": {"prompt_n": 3}})
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve(behaviour: Behaviour, tls: bool = False) -> Iterator[str]:
    """Serve as `behaviour` says until the block ends; yields the API's URL (ending in /v1). With
    `tls`, over HTTPS with a self-signed certificate (tests/data/tls)."""
    Handler.behaviour = behaviour
    with running(Handler, tls) as url:
        yield f"{url}/v1"
