"""Slash commands through the one command layer, with the fake engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chat import commands
from chat.commands import COMMANDS, execute
from chat.errors import CommandError, ModelLoadError, ParleyError
from chat.pipeline import Pipeline
from chat.sampling import Sampling
from chat.scripted_engine import ScriptedEngine, ScriptedLoader
from chat.session import Session
from tests.conftest import moderated_config

REQUIRED = [
    "help",
    "set",
    "temp",
    "top_p",
    "top_k",
    "max_tokens",
    "seed",
    "params",
    "reset",
    "system",
    "prompt",
    "prompts",
    "model",
    "models",
    "context",
    "clear",
    "undo",
    "retry",
    "save",
    "load",
    "export",
    "quit",
]


def test_every_required_command_exists_with_help(session: Session) -> None:
    for name in REQUIRED:
        assert name in COMMANDS
        assert COMMANDS[name].help and COMMANDS[name].usage.startswith(f"/{name}")
    listing = execute(session, "/help").text
    assert all(f"/{name}" in listing for name in REQUIRED)


def test_help_for_one_command_comes_from_its_definition(session: Session) -> None:
    text = execute(session, "/help set").text
    assert COMMANDS["set"].help in text
    assert "temperature" in text and "0 to 2" in text


def test_shortcuts_and_set_change_the_parameters(session: Session) -> None:
    execute(session, "/temp 0.25")
    execute(session, "/top_p 0.5")
    execute(session, "/top_k 3")
    execute(session, "/max_tokens 33")
    execute(session, "/seed 9")
    execute(session, "/set min_p 0.2")
    execute(session, "/set repeat_penalty 1.3")
    p = session.params
    assert (p.temperature, p.top_p, p.top_k, p.max_tokens, p.seed, p.min_p, p.repeat_penalty) == (
        0.25,
        0.5,
        3,
        33,
        9,
        0.2,
        1.3,
    )
    shown = execute(session, "/params").text
    assert re.search(r"^temperature +0.25$", shown, re.M)
    assert re.search(r"^seed +9$", shown, re.M) and re.search(r"^stop +none$", shown, re.M)  # as /set takes them
    execute(session, "/reset")
    assert session.params == session.model_config.sampling
    assert re.search(r"^seed +none$", execute(session, "/params").text, re.M)  # not Python's None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/tmep 1", "unknown command '/tmep'; did you mean '/temp'?"),
        ("/temp 3", "temperature: expected a number from 0 to 2"),
        ("/temp", "usage: /temp VALUE"),
        ("/set nope 1", "unknown parameter 'nope'"),
        ("/top_k -1", "top_k: expected a number from 0 to 1000"),
        ("/prompt nosuch", "unknown prompt preset 'nosuch'"),
        ("/model nosuch", "unknown model 'nosuch'"),
        ("/undo", "nothing to undo"),
        ("/retry", "nothing to retry"),
        ("/export out.txt", "use a .md or .json file name"),
        ("/load /nonexistent/x.json", "no such file"),
        ("/probs", "/probs looks at the last reply: send a message first"),
        ("/explain tmperature", "unknown parameter 'tmperature'; did you mean 'temperature'?"),
        ("/set repeat 1.2", "unknown parameter 'repeat'; did you mean 'repeat_penalty'?"),  # shortened
        ("/explain", "usage: /explain PARAM, one of: temperature, top_p"),
    ],
)
def test_bad_commands_are_one_line_errors_and_change_nothing(session: Session, line: str, message: str) -> None:
    before = (session.params, session.conversation.model_copy(deep=True), session.model_name)
    with pytest.raises(CommandError) as info:
        execute(session, line)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert (session.params, session.conversation, session.model_name) == before


def test_system_prompt_and_presets(session: Session, pipeline: Pipeline, engine: ScriptedEngine) -> None:
    assert session.conversation.prompt_name == "default"
    execute(session, "/prompt tutor")
    assert "tokens" in session.conversation.system
    listing = execute(session, "/prompts").text
    assert "* tutor" in listing and "support" in listing and "concise" in listing
    execute(session, "/system Talk like a pirate.")
    assert session.conversation.system == "Talk like a pirate."
    pipeline.send("hi")
    assert engine.calls[-1].messages[0] == {"role": "system", "content": "Talk like a pirate."}


def test_user_prompt_folder_adds_presets(tmp_path: Path, loader: ScriptedLoader) -> None:
    from chat.session import user_prompts_dir
    from tests.conftest import fake_config

    user_prompts_dir().mkdir(parents=True)
    (user_prompts_dir() / "pirate.toml").write_text('description = "Arr"\ntext = "Talk like a pirate."\n')
    session = Session(fake_config(tmp_path), loader)
    execute(session, "/prompt pirate")
    assert session.conversation.system == "Talk like a pirate."


def test_undo_retry_clear(session: Session, pipeline: Pipeline, engine: ScriptedEngine) -> None:
    engine.enqueue("one", "two", "three")
    pipeline.send("first")
    pipeline.send("second")
    outcome = execute(session, "/retry")
    assert outcome.generate == "second" and len(session.conversation.turns) == 1
    turn = pipeline.send(outcome.generate)
    assert turn.reply is not None and turn.reply.content == "three"
    execute(session, "/undo")
    assert [t.user for t in session.conversation.turns] == ["first"]
    execute(session, "/clear")
    assert session.conversation.turns == [] and session.conversation.system


def test_model_switch_and_failure_keeps_the_old_model(
    session: Session, loader: ScriptedLoader, pipeline: Pipeline
) -> None:
    session.params = session.params.with_value("temperature", "1.5")
    said = execute(session, "/model other").text
    assert session.model_name == "other" and session.engine.info.n_ctx == 4096
    assert said.startswith("model: other (n_ctx 4096); sampling, its own: ")  # the 1.5 set before is gone: said
    assert session.params == session.model_config.sampling
    loader.fail_on.add("fake")
    with pytest.raises(ModelLoadError, match="corrupt file"):  # a failure (exit 1), not a usage error
        execute(session, "/model fake")
    assert session.model_name == "other"
    pipeline.send("still works")
    assert session.conversation.turns[-1].reply is not None


def test_context_command(session: Session, pipeline: Pipeline) -> None:
    pipeline.send("hello there")
    text = execute(session, "/context").text
    for label in ("system prompt", "turn 1", "reserved (reply)", "free", "n_ctx"):
        assert label in text


def test_save_load_roundtrip(session: Session, tmp_path: Path, pipeline: Pipeline) -> None:
    execute(session, "/temp 0.1")
    pipeline.send("remember me")
    path = tmp_path / "conv.json"
    execute(session, f"/save {path}")
    doc = json.loads(path.read_text())
    assert doc["schema"] == "parley.conversation" and doc["version"] == 1
    reply = doc["conversation"]["turns"][0]["reply"]
    assert reply["params"]["temperature"] == 0.1 and reply["prompt_tokens"] > 0 and reply["completion_tokens"] > 0
    assert "created" in reply
    execute(session, "/clear")
    execute(session, "/reset")
    assert "loaded 1 turn" in execute(session, f"/load {path}").text
    assert session.conversation.turns[0].user == "remember me"
    assert session.params.temperature == 0.1


def test_save_default_path_is_in_the_data_dir(session: Session) -> None:
    text = execute(session, "/save").text
    path = Path(text.removeprefix("saved to "))
    assert path.is_file() and path.parent == commands.default_save_path().parent


def test_load_rejects_other_files(session: Session, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(CommandError, match="not a Parley conversation file"):
        execute(session, f"/load {other}")
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "parley.conversation", "version": 1, "model": "x"}')
    with pytest.raises(CommandError, match="invalid conversation file"):
        execute(session, f"/load {broken}")


def test_save_and_export_never_replace_a_file_of_the_user_s(
    session: Session, tmp_path: Path, pipeline: Pipeline
) -> None:
    pipeline.send("hi")
    notes = tmp_path / "notes.md"
    notes.write_text("my own notes\n")
    for command in (f"/export {notes}", f"/save {notes}"):
        with pytest.raises(CommandError, match="exists and is not a file Parley wrote"):
            execute(session, command)
    assert notes.read_text() == "my own notes\n"
    with pytest.raises(CommandError, match="no such folder"):
        execute(session, f"/export {tmp_path / 'missing' / 'c.md'}")
    assert not (tmp_path / "missing").exists()  # a mistyped folder is not made
    for command in ("/save", "/export"):
        with pytest.raises(CommandError, match="is a folder"):  # not "cannot export to a '' file"
            execute(session, f"{command} {tmp_path}")
    for name in ("c.md", "c.json"):  # an earlier export, or save, of Parley's is replaced, and said so
        assert "replacing" not in execute(session, f"/export {tmp_path / name}").text
        assert "replacing the export there" in execute(session, f"/export {tmp_path / name}").text
    execute(session, f"/save {tmp_path / 'conv.json'}")
    assert "replacing the conversation saved there" in execute(session, f"/save {tmp_path / 'conv.json'}").text
    with pytest.raises(CommandError, match="not a file Parley wrote"):  # an export is no saved conversation
        execute(session, f"/save {tmp_path / 'c.json'}")


def test_export_markdown_and_json_are_sanitized(
    session: Session, tmp_path: Path, pipeline: Pipeline, engine: ScriptedEngine
) -> None:
    engine.enqueue("evil \x1b]0;title\x07 [bold]x[/]")
    pipeline.send("hi")
    execute(session, f"/export {tmp_path / 'c.md'}")
    execute(session, f"/export {tmp_path / 'c.json'}")
    markdown = (tmp_path / "c.md").read_text()
    assert "## User (1)" in markdown and "## Assistant" in markdown and "\x1b" not in markdown
    assert "\\[bold]x\\[/]" in markdown  # shown as written: Markdown-escaped, so not a link
    data = json.loads((tmp_path / "c.json").read_text())
    assert [m["role"] for m in data["messages"]] == ["system", "user", "assistant"]
    assert "\x1b" not in data["messages"][2]["content"]


def test_quit(session: Session) -> None:
    assert execute(session, "/quit").quit


def test_every_reply_records_its_parameters(session: Session, pipeline: Pipeline) -> None:
    execute(session, "/temp 0.4")
    pipeline.send("a")
    execute(session, "/temp 0.9")
    pipeline.send("b")
    temps = [t.reply.params.temperature for t in session.conversation.turns]  # type: ignore[union-attr]
    assert temps == [0.4, 0.9]
    assert isinstance(session.conversation.turns[0].reply.params, Sampling)  # type: ignore[union-attr]


def test_file_attaches_text_to_the_next_message_with_its_cost(pipeline: Pipeline, session: Session,
                                                             tmp_path: Path) -> None:  # fmt: skip
    notes = tmp_path / "notes.txt"
    notes.write_text("buy milk\nfix the bike\n")
    outcome = commands.execute(session, f"/file {notes}")
    assert outcome.text.startswith("attached notes.txt: ") and "tokens" in outcome.text
    assert "notes.txt" in commands.execute(session, "/file").text
    pipeline.send("What is on my list?")
    sent = session.conversation.turns[-1].user
    assert sent.startswith("What is on my list?") and "File notes.txt:" in sent and "fix the bike" in sent
    assert session.attachments == []  # one message only
    pipeline.send("thanks")
    assert session.conversation.turns[-1].user == "thanks"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is a binary file"),
        (b"caf\xe9 latin-1", "is not UTF-8 text"),
        (b"word " * 5000, "of the 2048-token window are free"),
    ],
)
def test_file_refuses_binary_undecodable_and_too_large_files(session: Session, tmp_path: Path, content: bytes,
                                                            message: str) -> None:  # fmt: skip
    path = tmp_path / "f"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        commands.execute(session, f"/file {path}")
    assert session.attachments == []
    with pytest.raises(CommandError, match="cannot read"):
        commands.execute(session, f"/file {tmp_path / 'missing.txt'}")


def test_attached_text_passes_input_moderation(tmp_path: Path) -> None:
    config = moderated_config(tmp_path, 'backend = "offline"\nmoderate_input = true')
    session = Session(config, ScriptedLoader())
    bad = tmp_path / "bad.txt"
    bad.write_text("you are a worthless idiot and everyone hates you")
    commands.execute(session, f"/file {bad}")
    with pytest.raises(ParleyError, match="moderation flagged it"):
        Pipeline(session).send("please summarise")  # nobody to ask: not sent
    assert session.conversation.turns == []


def test_tokens_shows_text_or_the_last_reply_as_tokens(pipeline: Pipeline, session: Session) -> None:
    with pytest.raises(CommandError, match="usage: /tokens TEXT"):
        commands.execute(session, "/tokens")
    shown = commands.execute(session, "/tokens hello  world").text
    assert shown.splitlines()[0] == "3 tokens: [hello][␣␣][world]"  # the fake engine: words and spaces
    assert shown.splitlines()[1].startswith("ids: ")
    pipeline.send("hi")
    assert commands.execute(session, "/tokens").text.startswith("5 tokens: [You][␣][said:][␣][hi]")


def test_probs_needs_an_engine_that_reads_logits(session: Session, pipeline: Pipeline, engine: ScriptedEngine) -> None:
    engine.enqueue("Hello there.")
    pipeline.send("hi")
    with pytest.raises(CommandError, match="this model cannot show next-token probabilities"):
        execute(session, "/probs")
    for bad in ("9", "abc", "0", "-1"):
        with pytest.raises(CommandError, match=r"/probs POSITION: a token of the last reply, from 1 to \d"):
            execute(session, f"/probs {bad}")


def test_explain_says_what_a_parameter_does_with_its_value(session: Session) -> None:
    text = execute(session, "/explain top_p").text
    assert text.startswith(f"top_p = {session.params.top_p}: nucleus sampling") and "\n" not in text
    assert execute(session, "/explain seed").text.startswith("seed = none: starts the random draw")
    assert execute(session, "/explain stop").text.startswith("stop = none: strings that end the reply")
    assert execute(session, "/explain temp").text.startswith("temperature = ")  # the shortcut's name too
