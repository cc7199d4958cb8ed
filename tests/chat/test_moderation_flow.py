"""Moderation in the conversation: headless output, JSON events, input checks, and the TUI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chat.config import Config
from chat.scripted_engine import ScriptedLoader
from chat.tui.conversation import MessageView, NoticeView
from tests.chat.tui.helpers import answer_dialog, make_app, ready, submit, wait_until
from tests.conftest import Cli, moderated_config

ABUSIVE_REPLY = "Sure. You are a worthless idiot. Have a nice day."


def run_cli(run: Cli, config: Config, loader: ScriptedLoader, *args: str, stdin: str = "") -> tuple[int, str, str]:
    run.config, run.loader = config, loader
    return run(*args, stdin=stdin)


def test_headless_reply_is_redacted_and_the_verdict_reported(tmp_path: Path, run: Cli) -> None:
    config = moderated_config(tmp_path, 'backend = "offline"')
    code, out, err = run_cli(run, config, ScriptedLoader(ABUSIVE_REPLY), "ask", "hi")
    assert code == 0
    assert out == "Sure. ⟦removed: toxicity⟧ Have a nice day.\n"
    assert "⟦moderation: removed: toxicity 1.00⟧" in err


def test_json_event_lists_flagged_scores(tmp_path: Path, run: Cli) -> None:
    config = moderated_config(tmp_path, 'backend = "offline"')
    code, out, _ = run_cli(run, config, ScriptedLoader(ABUSIVE_REPLY), "ask", "--json", "hi")
    turn = [json.loads(line) for line in out.splitlines()][-1]
    assert turn["reply"] == "Sure. ⟦removed: toxicity⟧ Have a nice day."
    moderation = turn["moderation"]
    assert moderation["decision"] == "redact" and moderation["backend"] == "offline"
    assert moderation["flagged"][0]["flagged"] == ["toxicity"] and moderation["flagged"][0]["scores"]["toxicity"] > 0.9


def test_a_failing_backend_withholds_the_reply(tmp_path: Path, run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-torch-weights"))
    config = moderated_config(tmp_path, 'backend = "detoxify"')  # weights absent: the backend cannot load
    code, out, err = run_cli(run, config, ScriptedLoader("Totally harmless. Really."), "ask", "hi")
    assert code == 1  # a filter that cannot work is a runtime failure...
    assert "harmless" not in out  # ...and it fails closed: nothing unmoderated is shown
    assert "⟦moderation: reply withheld: " in err and "parley moderation download original" in err
    assert "error: moderation failed:" in err


def test_fail_open_shows_the_reply_with_a_warning(tmp_path: Path, run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-torch-weights"))
    config = moderated_config(tmp_path, 'backend = "detoxify"\nfail = "open"')
    code, out, err = run_cli(run, config, ScriptedLoader("Totally harmless. Really."), "ask", "hi")
    assert out == "Totally harmless. Really.\n" and code == 1
    assert "FAILED, shown unchecked" in err


def test_flagged_input_is_not_sent_headless(tmp_path: Path, run: Cli) -> None:
    config = moderated_config(tmp_path, 'backend = "offline"\nmoderate_input = true')
    loader = ScriptedLoader()
    code, out, err = run_cli(run, config, loader, "ask", "you stupid idiot")
    assert code == 1 and "message not sent: moderation flagged it (toxicity)" in err
    assert loader.engines[0].calls == []
    code, out, _ = run_cli(run, config, ScriptedLoader(), "ask", "hello there")
    assert code == 0 and out == "You said: hello there\n"


def test_moderation_command_and_switching_off(tmp_path: Path, run: Cli) -> None:
    config = moderated_config(tmp_path, 'backend = "offline"')
    script = tmp_path / "s.txt"
    script.write_text("/moderation off\nfirst\n/moderation on\nsecond\n/moderation\n")
    loader = ScriptedLoader(ABUSIVE_REPLY, ABUSIVE_REPLY)
    code, out, err = run_cli(run, config, loader, "run", str(script))
    assert code == 0
    assert out.splitlines() == [ABUSIVE_REPLY, "Sure. ⟦removed: toxicity⟧ Have a nice day."]
    assert "WARNING: moderation is off" in err
    assert "backend: offline" in err and "recent verdicts that flagged or failed:" in err and "redact" in err


def test_moderate_command_reads_stdin(tmp_path: Path, run: Cli) -> None:
    config = moderated_config(tmp_path, 'backend = "offline"')
    stdin = "You are a worthless idiot.\n\nHave a nice day!\n"
    code, out, _ = run_cli(run, config, ScriptedLoader(), "moderate", "--json", stdin=stdin)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["decision"] for r in rows] == ["redact", "allow"]
    assert rows[0]["text"] == "You are a worthless idiot." and rows[0]["scores"]["toxicity"] > 0.9
    absent = tmp_path / "no-weights.ckpt"  # a backend that cannot load: one line, exit 1, nothing read
    config = moderated_config(tmp_path, f'backend = "detoxify"\n[moderation.detoxify]\ncheckpoint = "{absent}"')
    code, out, err = run_cli(run, config, ScriptedLoader(), "moderate", stdin=stdin)
    assert code == 1 and out == "" and err.count("\n") == 1 and "the moderation backend cannot load" in err


async def test_tui_shows_a_redacted_span(tmp_path: Path) -> None:
    app = make_app(tmp_path, moderated_config(tmp_path, 'backend = "offline"'), ScriptedLoader(ABUSIVE_REPLY))
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await submit(pilot, "hi")
        await wait_until(pilot, lambda: not app.generating and len(app.query(MessageView)) == 2)
        reply = list(app.query(MessageView))[-1]
        assert reply.text == "Sure. ⟦removed: toxicity⟧ Have a nice day."
        assert "idiot" not in reply.text
        assert any("removed: toxicity" in str(n.render()) for n in reply.query(NoticeView))


async def test_tui_shows_a_block_notice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-torch-weights"))
    config = moderated_config(tmp_path, 'backend = "detoxify"')
    app = make_app(tmp_path, config, ScriptedLoader("Anything at all. More."))
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await submit(pilot, "hi")
        await wait_until(pilot, lambda: not app.generating and len(app.query(MessageView)) == 2)
        reply = list(app.query(MessageView))[-1]
        assert reply.text.startswith("⟦reply withheld by moderation")
        notices = [n for n in reply.query(NoticeView) if n.has_class("-error")]
        assert notices and "reply withheld" in str(notices[0].render())


async def test_tui_asks_before_sending_flagged_input(tmp_path: Path) -> None:
    config = moderated_config(tmp_path, 'backend = "offline"\nmoderate_input = true')
    loader = ScriptedLoader()
    app = make_app(tmp_path, config, loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        await submit(pilot, "you stupid idiot")
        await answer_dialog(pilot, "enter")  # the default is No
        await wait_until(pilot, lambda: app.screen.__class__.__name__ != "ConfirmScreen")
        assert loader.engines[0].calls == []
        assert app.query_one("PromptInput").text == "you stupid idiot"  # type: ignore[attr-defined]
        await submit(pilot, "you stupid idiot")
        await answer_dialog(pilot, "tab", "enter")  # Yes
        await wait_until(pilot, lambda: len(loader.engines[0].calls) == 1 and not app.generating)


def test_without_detoxify_or_the_encoder_auto_says_what_moderates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moderation import encoder
    from moderation.config import ModerationConfig
    from moderation.filter import Moderator

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "none"))
    monkeypatch.setattr(encoder, "candidate_paths", lambda: [tmp_path / "no-encoder.gguf"])
    moderator = Moderator(ModerationConfig(backend="auto"))
    moderator.load()
    assert moderator.backend_name == "offline"
    assert "a word-list classifier moderates" in moderator.describe()
    assert "parley moderation prepare" in moderator.note


def test_a_slow_backend_holds_the_display_back_but_never_the_model(tmp_path: Path) -> None:
    """Each check takes 80 ms; the model writes a token every 5 ms. Generation runs beside
    moderation, so the model's pace is its own, while shown text waits for every verdict."""
    import time
    from collections.abc import Sequence

    from chat.pipeline import Pipeline
    from chat.session import Session
    from moderation.filter import Moderator
    from moderation.verdict import Category

    class Slow:
        name = "slow"
        checks = 0

        def score(self, texts: Sequence[str]) -> list[dict[Category, float]]:
            time.sleep(0.08)
            Slow.checks += 1
            return [{"toxicity": 0.0} for _ in texts]

    config = moderated_config(tmp_path, 'backend = "offline"')
    loader = ScriptedLoader(" ".join(f"Sentence number {i} is here." for i in range(6)))
    session = Session(config, loader, moderator=Moderator(config.moderation, lambda _: Slow()))
    loader.engines[0].token_delay = 0.005
    shown: list[str] = []
    reply = Pipeline(session, lambda e: shown.append(getattr(e, "text", ""))).send("go").reply
    assert reply is not None and Slow.checks >= 3
    generation_s = (reply.completion_tokens - 1) / (reply.tokens_per_s or 1)
    assert reply.duration_s >= Slow.checks * 0.08  # the display waited for every verdict...
    assert generation_s < 0.6 * reply.duration_s  # ...while the model went on at its own pace
    assert reply.tokens_per_s is not None and reply.tokens_per_s > 100  # ~200 tokens/s when unhindered
    assert "".join(shown).startswith("Sentence number 0 is here.") and reply.content.endswith("5 is here.")


def test_logprobs_are_withheld_when_moderation_removed_text(
    tmp_path: Path, run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token list would repeat what was removed; the perplexity (a number) is still given."""
    from chat.engine import StreamEnd, TextDelta, TokenLogprob
    from chat.scripted_engine import ScriptedEngine

    stream = ScriptedEngine.stream

    def with_logprobs(self: ScriptedEngine, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        texts: list[str] = []
        for event in stream(self, *args, **kwargs):  # type: ignore[arg-type]
            if isinstance(event, TextDelta):
                texts.append(event.text)
            elif isinstance(event, StreamEnd):
                scored = tuple(TokenLogprob(i, text, -0.5) for i, text in enumerate(texts))
                event = StreamEnd(event.finish_reason, event.prompt_tokens, len(texts), 0, scored)
            yield event

    monkeypatch.setattr(ScriptedEngine, "stream", with_logprobs)
    config = moderated_config(tmp_path, 'backend = "offline"')
    for reply, withheld in ((ABUSIVE_REPLY, True), ("Have a nice day.", False)):
        _, out, _ = run_cli(run, config, ScriptedLoader(reply), "ask", "--json", "--logprobs", "hi")
        turn = [json.loads(line) for line in out.splitlines()][-1]
        assert turn["perplexity"] == pytest.approx(2.718281828**0.5)
        if withheld:
            assert turn["logprobs"] is None and "⟦removed" in turn["reply"]
        else:
            assert "".join(t["text"] for t in turn["logprobs"]) == turn["reply"] == "Have a nice day."
