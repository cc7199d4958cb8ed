"""The HTTP engine against a small stand-in server that answers as llama.cpp's server, vLLM or a
plain OpenAI-style server do (tests/openai_server.py); the real server is in tests/test_server.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from chat.commands import execute
from chat.config import ModelConfig, load_config
from chat.engine import Message, StreamEnd, TextDelta
from chat.errors import ConfigError, ModelLoadError, ParleyError
from chat.events import Event, Notice
from chat.http_engine import HttpEngine
from chat.models import load_engine
from chat.pipeline import Pipeline
from chat.sampling import Sampling
from chat.session import Session
from tests.conftest import write_config
from tests.hub_server import TLS
from tests.openai_server import Behaviour, serve, template, tokens

CHAT: list[Message] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello to me"}]
GREEDY = Sampling(temperature=0.0, max_tokens=20, seed=5, top_k=7, min_p=0.1, repeat_penalty=1.3)


def streamed(behaviour: Behaviour) -> dict[str, object]:
    """The body of the last streamed reply's request (not the count check at load)."""
    return next(b for b in reversed(behaviour.bodies) if b["path"] == "/v1/chat/completions" and b.get("stream"))


def engine(url: str, **config: object) -> HttpEngine:
    return HttpEngine("remote", ModelConfig(url=url, **config))


def reply(eng: HttpEngine, params: Sampling = GREEDY, **options: object) -> tuple[str, StreamEnd]:
    events = list(eng.stream(CHAT, params, threading.Event(), **options))  # type: ignore[arg-type]
    end = events[-1]
    assert isinstance(end, StreamEnd)
    return "".join(e.text for e in events if isinstance(e, TextDelta)), end


def test_llama_cpp_server_counts_exactly_with_its_template_and_tokenizer() -> None:
    behaviour = Behaviour(kind="llama.cpp", n_ctx=3000)
    with serve(behaviour) as url:
        eng = engine(url)
        assert eng.info.counts == "exact" and eng.info.n_ctx == 3000  # the server's window, from /props
        assert eng.info.notes == ()  # it takes every sampling parameter
        assert eng.count_tokens(CHAT) == len(tokens(template(CHAT, True)))
        assert eng.count_tokens(CHAT, add_generation_prompt=False) == len(tokens(template(CHAT, False)))
        text, end = reply(eng)
    assert text == "Hello there."
    assert (end.finish_reason, end.prompt_tokens, end.completion_tokens, end.evaluated_prompt_tokens) == (
        "stop", len(tokens(template(CHAT, True))), 3, 3,
    )  # fmt: skip
    sent = streamed(behaviour)
    assert sent["messages"] == CHAT and sent["stream"] is True and sent["model"] == "served-model"
    assert (sent["temperature"], sent["seed"], sent["max_tokens"]) == (0.0, 5, 20)
    assert (sent["top_k"], sent["min_p"], sent["repeat_penalty"]) == (7, 0.1, 1.3)


def test_vllm_counts_the_messages_and_takes_its_own_parameter_names() -> None:
    behaviour = Behaviour(kind="vllm", n_ctx=8192)
    with serve(behaviour) as url:
        eng = engine(url, n_ctx=4096)
        assert eng.info.counts == "exact"
        assert eng.info.n_ctx == 4096  # set lower in models.toml: the smaller window holds
        assert eng.count_tokens(CHAT) == len(tokens(template(CHAT, True)))
        reply(eng)
    sent = streamed(behaviour)
    assert sent["repetition_penalty"] == 1.3 and "repeat_penalty" not in sent


def test_a_server_that_cannot_tokenize_gets_approximate_counts_and_the_user_is_told() -> None:
    behaviour = Behaviour(kind="openai")
    with serve(behaviour) as url:
        eng = engine(url, n_ctx=1024)
        info = eng.info
        assert info.counts == "approximate" and info.n_ctx == 1024
        assert any("approximate" in note for note in info.notes)
        assert any("top_k, min_p, repeat_penalty not sent" in note for note in info.notes)
        estimate = eng.count_tokens(CHAT)
        with pytest.raises(ParleyError, match="does not give its tokenizer"):
            eng.tokenize("hello")
        reply(eng)
    # Over-estimated on purpose: more than the server's real count (one token a word here).
    assert estimate > len(tokens(template(CHAT, True)))
    sent = streamed(behaviour)
    assert not {"top_k", "min_p", "repeat_penalty"} & set(sent)


def test_a_count_the_server_contradicts_turns_the_label_to_approximate() -> None:
    behaviour = Behaviour(kind="llama.cpp", usage_prompt=999)
    with serve(behaviour) as url:
        eng = engine(url)  # checked at load: one reply of one token
        assert eng.info.counts == "approximate"
        assert any("the server counts as 999" in note for note in eng.info.notes)
        behaviour.usage_prompt = None
        eng = engine(url)
        assert eng.info.counts == "exact"
        behaviour.usage_prompt = 999  # and checked again with every reply
        _, end = reply(eng)
    after = eng.info
    assert end.prompt_tokens == 999 and after.counts == "approximate"  # what the server evaluated


def test_reasoning_content_becomes_a_think_block() -> None:
    with serve(Behaviour(reasoning=("Let me", " think."), pieces=("Hi.",))) as url:
        text, _ = reply(engine(url))
    assert text == "<think>Let me think.</think>Hi."


def test_a_server_that_answers_whole_instead_of_streaming_still_gives_the_reply() -> None:
    with serve(Behaviour(stream=False, finish="length")) as url:
        text, end = reply(engine(url))
    assert text == "Hello there." and end.finish_reason == "length"


def test_http_errors_are_one_line_with_the_servers_reason() -> None:
    with serve(Behaviour(status=500, error="model exploded\nTraceback: ...")) as url:
        with pytest.raises(ParleyError) as caught:
            reply(engine(url))
    message = str(caught.value)
    assert "HTTP 500" in message and "model exploded" in message and "\n" not in message


def test_the_api_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(Behaviour(key="sekrit")) as url:
        with pytest.raises(ParleyError, match="HTTP 401.*api_key_env"):
            engine(url)
        monkeypatch.setenv("PARLEY_TEST_KEY", "sekrit")
        text, _ = reply(engine(url, api_key_env="PARLEY_TEST_KEY"))
        assert text == "Hello there."
        monkeypatch.delenv("PARLEY_TEST_KEY")
        with pytest.raises(ConfigError, match=r"\$PARLEY_TEST_KEY is not set"):
            engine(url, api_key_env="PARLEY_TEST_KEY")


def test_a_slow_server_times_out_with_one_line() -> None:
    with serve(Behaviour(delay_s=1.0)) as url:
        eng = engine(url, read_timeout_s=0.3)
        start = time.monotonic()
        with pytest.raises(ParleyError, match=r"no answer within 0.3 s \(read_timeout_s\)"):
            reply(eng)
    assert time.monotonic() - start < 2


def test_a_stream_cut_short_is_an_error_after_the_text_it_gave() -> None:
    with serve(Behaviour(cut_after=2)) as url:
        events = []
        with pytest.raises(ParleyError, match="the stream closed before the reply ended"):
            for event in engine(url).stream(CHAT, GREEDY, threading.Event()):
                events.append(event)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello there"


def test_cancel_hangs_up_while_the_server_is_silent() -> None:
    with serve(Behaviour(delay_s=5.0)) as url:
        eng = engine(url)
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        start = time.monotonic()
        events = list(eng.stream(CHAT, GREEDY, cancel))
    assert time.monotonic() - start < 2  # not the 5 s the server would have kept silent
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.finish_reason == "cancelled"


def test_a_server_that_is_down_is_one_line() -> None:
    with serve(Behaviour()) as url:
        pass  # closed again: nothing listens there now
    with pytest.raises(ParleyError, match="connection refused"):
        engine(url)


def test_the_model_must_be_one_the_server_serves() -> None:
    with serve(Behaviour()) as url:
        with pytest.raises(ConfigError, match="does not serve 'other'.*served-model"):
            engine(url, model="other")
        assert engine(url, model="served-model").info.path.endswith("(served-model)")


def test_config_keys_of_a_server_model(tmp_path: Path) -> None:
    def load(body: str) -> str:
        with pytest.raises(ConfigError) as caught:
            load_config(write_config(tmp_path, f'default = "m"\n[models.m]\n{body}\n'))
        return str(caught.value)

    assert "exactly one source" in load('url = "http://h:1/v1"\npath = "x.gguf"')
    assert "url" in load('url = "ftp://h/v1"')
    assert "`model` is only valid with `url`" in load('path = "x.gguf"\nmodel = "m"')
    assert "`n_gpu_layers` is set on the server" in load('url = "http://h:1/v1"\nn_gpu_layers = -1')
    for local in ("prompt_cache = false", "flash_attn = true"):  # the server's own business
        assert f"`{local.split()[0]}` is set on the server" in load(f'url = "http://h:1/v1"\n{local}')
    assert "api_key_env" in load('url = "http://h:1/v1"\napi_key_env = "not a name"')
    config = load_config(write_config(tmp_path, 'default = "m"\n[models.m]\nurl = "http://h:1/v1"\nmodel = "x"\n'))
    assert config.models["m"].source == "url http://h:1/v1 (x)"


def test_what_the_user_should_know_is_told_once_when_the_session_starts(tmp_path: Path) -> None:
    with serve(Behaviour(kind="openai")) as url:
        config = load_config(write_config(tmp_path, f'default = "m"\n[models.m]\nurl = "{url}"\n'))
        events: list[Event] = []
        session = Session(config, load_engine)
        Pipeline(session, events.append).start()
        notes = [e.text for e in events if isinstance(e, Notice) and e.kind == "model"]
        assert len(notes) == 3 and "context window" in notes[0] and "approximate" in notes[1] and "not sent" in notes[2]
        session.close()


def test_commands_that_need_the_models_insides_say_what_a_server_allows(tmp_path: Path) -> None:
    with serve(Behaviour(kind="llama.cpp")) as url:
        config = load_config(write_config(tmp_path, f'default = "m"\n[models.m]\nurl = "{url}"\n'))
        session = Session(config, load_engine)
        try:
            assert execute(session, "/explain top_k").text.startswith("top_k = 40: keeps only")
            assert "LoRA adapters are set on the server" in execute(session, "/lora").text
            with pytest.raises(ParleyError, match="llama-server --lora"):
                execute(session, "/lora 0.5")
        finally:
            session.close()


def test_https_checks_the_certificate_and_takes_a_private_ca_from_ssl_cert_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serve(Behaviour(kind="llama.cpp"), tls=True) as url:
        assert url.startswith("https://")
        with pytest.raises(ModelLoadError, match="TLS failed: .*CERTIFICATE_VERIFY_FAILED.*SSL_CERT_FILE"):
            engine(url)
        monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "cert.pem"))  # the server's CA, as a user sets it
        eng = engine(url)
        assert eng.info.counts == "exact"
        text, _ = reply(eng)
    assert text == "Hello there."


def test_a_stream_that_ends_with_done_but_names_no_finish_reason_is_a_whole_reply() -> None:
    with serve(Behaviour(finish="")) as url:
        text, end = reply(engine(url))
    assert text == "Hello there." and end.finish_reason == "stop"
