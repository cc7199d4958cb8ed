"""Parley in front of a real OpenAI-compatible server: llama-cpp-python's (`python -m
llama_cpp.server`, its `server` extra) serving the embedded model on 127.0.0.1. The same
conversation through the server and through the local engine: the same replies, the same exact
counts; streaming, cancel, a server that refuses, dies mid-reply or is not there."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat.config import load_config
from chat.engine import Message, StreamEnd, TextDelta
from chat.errors import ParleyError
from chat.events import Event, TextShown, TurnDone
from chat.gguf_header import read_metadata
from chat.http_engine import HttpEngine
from chat.models import load_engine
from chat.pipeline import Pipeline
from chat.sampling import Sampling
from chat.session import Session
from tests.chat.helpers import parley
from tests.conftest import EMBEDDED_GGUF, write_config
from tests.llama_server import start_server

pytestmark = pytest.mark.integration

QUESTIONS = ["Name a fruit that is yellow.", "And one that is red?", "Which of the two is sweeter?"]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    process, url = start_server()
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded model's chat template, as a file (a server does not hand it out)."""
    path = tmp_path_factory.mktemp("template") / "smollm2.jinja"
    path.write_text(read_metadata(EMBEDDED_GGUF, {"tokenizer.chat_template"})["tokenizer.chat_template"])
    return path


def config_file(tmp_path: Path, url: str, template: Path | None, extra: str = "") -> Path:
    chat_template = f'chat_template = "{template}"\n' if template else ""
    return write_config(
        tmp_path,
        f"""
default = "served"
[models.served]
url = "{url}"
{chat_template}{extra}
[models.served.sampling]
temperature = 0.0
seed = 3
max_tokens = 48
[models.local]
path = "{EMBEDDED_GGUF}"
n_threads = 1  # as the server runs: the same arithmetic
[models.local.sampling]
temperature = 0.0
seed = 3
max_tokens = 48
[moderation]
backend = "offline"
[actions]
enabled = false
""",
    )


def converse(config: Path, model: str) -> tuple[list[str], list[int], list[int], Session]:
    """QUESTIONS asked in turn: the replies, each turn's prompt tokens as the engine reported
    them, and the count of the conversation after each turn."""
    events: list[Event] = []
    session = Session(load_config(config), load_engine, model)
    pipeline = Pipeline(session, events.append)
    counts = []
    for question in QUESTIONS:
        pipeline.send(question)
        counts.append(session.context_used())
    replies = [turn.reply.content for turn in session.conversation.turns if turn.reply]
    prompts = [e.turn.reply.prompt_tokens for e in events if isinstance(e, TurnDone) and e.turn.reply]
    return replies, prompts, counts, session


def test_a_conversation_through_the_server_is_the_local_one_with_the_same_counts(
    server: str, template: Path, tmp_path: Path
) -> None:
    config = config_file(tmp_path, server, template)
    remote = converse(config, "served")
    local = converse(config, "local")
    try:
        assert remote[3].engine.info.counts == "exact"
        assert remote[0] == local[0]  # greedy, same seed: the same words
        assert remote[1] == local[1]  # each reply's prompt, in tokens
        assert remote[2] == local[2]  # the conversation's size after each turn
        report = remote[3].context_report()
        assert report == local[3].context_report()  # /context: every turn's share
        assert all(reply.strip() for reply in remote[0])
    finally:
        remote[3].close()
        local[3].close()


def test_without_the_template_counts_are_approximate_and_over_not_under(server: str, tmp_path: Path) -> None:
    config = config_file(tmp_path, server, None)
    served = load_engine("served", load_config(config).models["served"])
    local = load_engine("local", load_config(config).models["local"])
    messages = [{"role": "user", "content": question} for question in QUESTIONS]
    try:
        assert served.info.counts == "approximate"
        assert served.count_tokens(messages) > local.count_tokens(messages)  # type: ignore[arg-type]
    finally:
        served.close()
        local.close()


def test_streaming_arrives_in_pieces_and_cancel_stops_the_server(server: str, template: Path, tmp_path: Path) -> None:
    engine = load_engine("served", load_config(config_file(tmp_path, server, template)).models["served"])
    assert isinstance(engine, HttpEngine)
    messages = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    params = Sampling(temperature=0.8, max_tokens=400, seed=1)
    cancel = threading.Event()
    pieces = []
    for event in engine.stream(messages, params, cancel):  # type: ignore[arg-type]
        if isinstance(event, TextDelta):
            pieces.append(event.text)
            if len(pieces) == 5:
                cancel.set()
    assert isinstance(event, StreamEnd) and event.finish_reason == "cancelled"
    assert len(pieces) <= 6  # at most one more piece was on its way
    # The server stopped generating: a short reply now comes at once, not after 400 tokens.
    start = time.monotonic()
    events = list(engine.stream(messages, Sampling(temperature=0.0, max_tokens=8), threading.Event()))  # type: ignore[arg-type]
    assert time.monotonic() - start < 5
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.finish_reason == "length" and end.completion_tokens == 8


def test_a_request_the_server_cannot_serve_is_one_line_and_exit_1(server: str, template: Path, tmp_path: Path) -> None:
    # models.toml claims a larger window than the server's 2048 tokens, and the message does not
    # fit the server's: it fails the request once the stream has begun.
    config = config_file(tmp_path, server, template, extra="n_ctx = 8192")
    result = parley("ask", "--config", str(config), "Say hello. " * 700)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert len(err.strip().splitlines()) == 1 and "the stream closed before the reply ended" in err


def test_headless_run_over_the_server(server: str, template: Path, tmp_path: Path) -> None:
    config = config_file(tmp_path, server, template)
    script = tmp_path / "script.txt"
    script.write_text("/context\nName a colour.\n/set top_k 1\n/context\n")
    result = parley("run", "--config", str(config), "--json", str(script), home=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    events = [json.loads(line) for line in result.stdout.decode().splitlines()]
    started = next(e for e in events if e["type"] == "session")
    assert started["counts"] == "exact" and started["path"].startswith(server)
    turn = next(e for e in events if e["type"] == "turn")
    assert turn["usage"]["prompt_tokens"] > 0 and turn["finish_reason"] in ("stop", "length") and turn["reply"]
    contexts = [e for e in events if e["type"] == "command" and e["command"] == "/context"]
    assert len(contexts) == 2 and "turn 1" in contexts[1]["output"]


def test_a_server_that_wants_a_key_then_dies_mid_reply(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    process, url = start_server(api_key="sekrit")
    config = config_file(tmp_path, url, template, extra='api_key_env = "PARLEY_TEST_KEY"')
    monkeypatch.setenv("PARLEY_TEST_KEY", "wrong")
    refused = parley("ask", "--config", str(config), "Hello")
    assert refused.returncode == 1 and "HTTP 401" in refused.stderr.decode()
    assert len(refused.stderr.decode().strip().splitlines()) == 1
    monkeypatch.setenv("PARLEY_TEST_KEY", "sekrit")
    session = Session(load_config(config), load_engine, "served")
    shown: list[str] = []

    def on_event(event: Event) -> None:
        if isinstance(event, TextShown):
            shown.append(event.text)
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)  # the server dies with the reply under way

    pipeline = Pipeline(session, on_event)
    session.params = Sampling(temperature=0.0, max_tokens=300)
    try:
        with pytest.raises(ParleyError) as caught:
            pipeline.send("Write a long story about a lighthouse keeper and the sea.")
        assert str(caught.value).startswith("generation failed: server") and "\n" not in str(caught.value)
        turn = session.conversation.turns[-1]
        assert turn.reply is not None and turn.reply.finish_reason == "error"
        assert shown and turn.reply.content == "".join(shown)  # what was shown is kept
    finally:
        session.close()
        process.wait(timeout=30)
    down = parley("ask", "--config", str(config), "Hello")
    assert down.returncode == 1 and "connection refused" in down.stderr.decode()
    assert len(down.stderr.decode().strip().splitlines()) == 1


@pytest.mark.parametrize(("policy", "with_template"), [("truncate", True), ("compact", False)])
def test_overflow_policies_over_the_server(
    server: str, template: Path, tmp_path: Path, policy: str, with_template: bool
) -> None:
    # A 512-token window in Parley (the server's is 2048): exact counts, or approximate ones.
    config = config_file(tmp_path, server, template if with_template else None, extra="n_ctx = 512")
    config.write_text(f'overflow = "{policy}"\n' + config.read_text())
    questions = [f"Question {i}: explain in detail why the number {i} is interesting." for i in range(8)]
    script = tmp_path / "long.txt"
    script.write_text("\n\n".join(questions) + "\n\n/context\n")  # a blank line ends a message
    result = parley("run", "--config", str(config), "--json", "--no-history", str(script), home=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    events = [json.loads(line) for line in result.stdout.decode().splitlines()]
    turns = [e for e in events if e["type"] == "turn"]
    assert len(turns) == 8 and all(t["finish_reason"] in ("stop", "length") for t in turns)
    assert all(t["usage"]["prompt_tokens"] + t["usage"]["completion_tokens"] <= 512 for t in turns)
    if policy == "truncate":
        assert any(t["context"]["dropped_turns"] for t in turns)
    else:
        assert any(e["type"] == "compact" for e in events)
    context = [e for e in events if e["type"] == "command"][-1]["output"]
    assert "out of context: turn(s) 1" in context
    assert ("approximate counts" in context) is not with_template


def test_log_probabilities_over_the_server_are_the_local_ones(server: str, template: Path, tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, server, template))
    messages: list[Message] = [{"role": "user", "content": "Name three colours."}]
    params = Sampling(temperature=0.0, max_tokens=16, seed=1)
    found = []
    for name in ("served", "local"):
        engine = load_engine(name, config.models[name])
        try:
            end = list(engine.stream(messages, params, threading.Event(), logprobs=True))[-1]
        finally:
            engine.close()
        assert isinstance(end, StreamEnd)
        found.append([(t.text, t.logprob) for t in end.logprobs])
    served, local = found
    assert len(served) == len(local) == 16
    assert [t for t, _ in served] == [t for t, _ in local]
    assert all(abs(a - b) < 1e-3 for (_, a), (_, b) in zip(served, local, strict=True))


def test_the_template_can_be_the_served_gguf_and_a_wrong_one_is_caught(server: str, tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, server, EMBEDDED_GGUF))  # the template inside the model's file
    served = load_engine("served", config.models["served"])
    assert served.info.counts == "exact" and not any("approximate" in note for note in served.info.notes)
    served.close()
    wrong = tmp_path / "wrong.jinja"
    wrong.write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    config = load_config(config_file(tmp_path, server, wrong))
    served = load_engine("served", config.models["served"])
    assert served.info.counts == "approximate"  # checked against the server's own count at load
    assert any("the template in chat_template gives" in note for note in served.info.notes)
    served.close()
