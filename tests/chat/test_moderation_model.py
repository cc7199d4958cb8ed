"""The moderation model ([moderation.llm]) through the real `parley` command, with scripted models
standing in for the chat model and the moderation model: its verdict comes after the reply was
shown, and one to redact or block withdraws the reply; output that is no verdict is a failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chat.scripted_engine import ScriptedLoader
from chat.tui.conversation import MessageView
from tests.chat.helpers import events, one_line, parley, scripted
from tests.chat.tui.helpers import make_app, ready, send
from tests.conftest import fake_config

REPLY = "Your neighbours are vermin and should be driven out of town."


def judged(tmp_path: Path, *verdicts: str, fmt: str = "llama-guard-3", extra: str = "", reply: str = REPLY) -> Path:
    """A config whose chat model says `reply`, judged by a moderation model that answers `verdicts`."""
    (tmp_path / "judge.jsonl").write_text("".join(json.dumps({"content": v}) + "\n" for v in verdicts))
    return scripted(tmp_path, reply, extra=f'[moderation.llm]\nscript = "judge.jsonl"\nformat = "{fmt}"\n{extra}')


def test_an_unsafe_verdict_withdraws_the_reply_it_follows(tmp_path: Path) -> None:
    result = parley("--config", str(judged(tmp_path, "unsafe\nS10")), "ask", "--json", "hi", home=tmp_path)
    assert result.returncode == 0, result.stderr
    (withdrawn,) = events(result.stdout, "withdrawn")
    (turn,) = events(result.stdout, "turn")
    assert withdrawn["content"] == turn["reply"] == "⟦reply withdrawn by the moderation model: identity_attack⟧"
    assert turn["finish_reason"] == "blocked" and turn["moderation"]["decision"] == "block"
    assert turn["moderation"]["model"]["labels"] == ["S10: Hate"]
    notices = [n["text"] for n in events(result.stdout, "notice")]
    assert "moderation model: reply withdrawn: identity_attack 1.00 (S10: Hate)" in notices
    # the text shown before the verdict came is in the stream; the record has the withdrawal
    assert [e["type"] for e in events(result.stdout)].index("withdrawn") < [
        e["type"] for e in events(result.stdout)
    ].index("turn")


def test_a_safe_verdict_changes_nothing_and_is_recorded(tmp_path: Path) -> None:
    result = parley("--config", str(judged(tmp_path, "safe")), "ask", "--json", "hi", home=tmp_path)
    assert result.returncode == 0, result.stderr
    (turn,) = events(result.stdout, "turn")
    assert turn["reply"] == REPLY and events(result.stdout, "withdrawn") == []
    assert turn["moderation"]["model"]["decision"] == "allow"
    assert turn["moderation"]["model"]["backend"] == "llama-guard-3 model"


def test_a_warning_category_is_a_notice_and_the_reply_stays(tmp_path: Path) -> None:
    result = parley("--config", str(judged(tmp_path, "unsafe\nS6")), "ask", "hi", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert REPLY in result.stdout.decode()
    assert "⟦moderation model: warning: unsafe 1.00 (S6: Specialized Advice)⟧" in result.stderr.decode()


@pytest.mark.parametrize(
    ("verdict", "fmt", "why"),
    [
        ("I think this reply is fine.", "llama-guard-3", "expected 'safe' or 'unsafe'"),
        ("Safety: Unsafe", "qwen3guard", "names no category"),
        ("Perhaps", "shieldgemma", "expected 'Yes' or 'No'"),
    ],
)
def test_output_that_is_no_verdict_fails_closed(tmp_path: Path, verdict: str, fmt: str, why: str) -> None:
    config = judged(tmp_path, *[verdict] * 4, fmt=fmt)
    result = parley("--config", str(config), "ask", "--json", "hi", home=tmp_path)
    assert result.returncode == 1  # the turn is recorded, but a failed moderation is a failure
    (turn,) = events(result.stdout, "turn")
    assert turn["reply"].startswith("⟦reply withdrawn by the moderation model: moderation failed")
    assert why in turn["moderation"]["model"]["error"]
    (error,) = events(result.stdout, "error")
    assert error["error"].startswith("moderation failed:")


def test_fail_open_shows_the_reply_with_a_warning(tmp_path: Path) -> None:
    config = judged(tmp_path, "no idea", extra="")
    text = config.read_text().replace("[moderation]\n", '[moderation]\nfail = "open"\n')
    config.write_text(text)
    result = parley("--config", str(config), "ask", "hi", home=tmp_path)
    assert result.returncode == 1 and REPLY in result.stdout.decode()
    assert "⟦moderation model FAILED, reply shown unchecked: expected 'safe' or 'unsafe'" in result.stderr.decode()


def test_a_reply_too_long_for_the_moderation_models_context_fails_closed(tmp_path: Path) -> None:
    config = judged(tmp_path, "safe", extra="n_ctx = 64\n", reply="Fine words. " * 40)
    result = parley("--config", str(config), "ask", "--json", "hi", home=tmp_path)
    (turn,) = events(result.stdout, "turn")
    assert result.returncode == 1 and "over its n_ctx = 64" in turn["moderation"]["model"]["error"]


def test_a_moderation_model_needs_a_format(tmp_path: Path) -> None:
    config = scripted(tmp_path, "hi", extra='[moderation.llm]\nscript = "judge.jsonl"\n')
    result = parley("--config", str(config), "ask", "hi", home=tmp_path)
    assert result.returncode == 2 and "missing key 'moderation.llm.format'" in one_line(result)


def test_moderation_off_loads_no_moderation_model(tmp_path: Path) -> None:
    config = judged(tmp_path)  # no verdicts: asking it anything would fail
    config.write_text(config.read_text().replace("[moderation]\n", "[moderation]\nenabled = false\n"))
    result = parley("--config", str(config), "ask", "--json", "hi", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert events(result.stdout, "turn")[0]["reply"] == REPLY


async def test_the_tui_replaces_a_withdrawn_reply(tmp_path: Path) -> None:
    config = fake_config(tmp_path, moderation='backend = "offline"\n[moderation.llm]\npath = "fake.gguf"\n'
                         'format = "llama-guard-3"')  # fmt: skip
    loader = ScriptedLoader()
    app = make_app(tmp_path, config, loader)
    async with app.run_test() as pilot:
        await ready(pilot)
        chat_model, moderation_model = loader.engines
        chat_model.enqueue(REPLY)
        moderation_model.enqueue("unsafe\nS1")
        await send(pilot, "hi")
        reply = list(app.query(MessageView))[-1]
        assert reply.text == "⟦reply withdrawn by the moderation model: threat⟧"


def test_moderate_asks_the_moderation_model_too(tmp_path: Path) -> None:
    config = judged(tmp_path, "safe", "unsafe\nS11")
    result = parley("--config", str(config), "moderate", "--json", stdin=b"Have a nice day.\nNobody would miss you.\n",
                    home=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, second = events(result.stdout)
    assert first["decision"] == "allow" and first["model"]["decision"] == "allow"
    assert second["decision"] == "block" and second["model"]["flagged"] == ["self_harm"]
    assert second["model"]["backend"] == "llama-guard-3 model" and second["backend"] == "offline"
