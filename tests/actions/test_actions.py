"""Actions: the registry, argument validation, workspace confinement, and command actions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actions.action import ActionContext, ActionError
from actions.builtin import BUILTIN, confine
from actions.commands import command_action
from actions.config import ActionsConfig, CommandActionConfig
from actions.registry import Registry


@pytest.fixture
def ctx(tmp_path: Path) -> ActionContext:
    workspace = tmp_path / "workspace"
    workspace.mkdir()

    def export(path: Path) -> None:
        path.write_text("exported")

    return ActionContext(workspace, tmp_path / "notes.md", export)


REGISTRY = Registry(BUILTIN)


@pytest.mark.parametrize(
    "reply",
    [
        'Sure. <action>{"name": "save_note", "arguments": {"text": "buy milk"}}</action>',
        '```action\n{"name": "save_note", "arguments": {"text": "buy milk"}}\n```',
        '```json\n{"action": "save_note", "args": {"text": "buy milk"}}\n```',
    ],
)
def test_requests_are_read_in_several_shapes(reply: str) -> None:
    requests, problems = REGISTRY.parse(reply)
    assert problems == [] and len(requests) == 1
    assert requests[0].action.name == "save_note" and requests[0].arguments.model_dump() == {"text": "buy milk"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"name": "launch_rockets", "arguments": {}}', "unknown action 'launch_rockets'"),
        ('{"name": "save_note", "arguments": {}}', "save_note: text: Field required"),
        ('{"name": "save_note", "arguments": {"text": "x", "extra": 1}}', "extra: Extra inputs are not permitted"),
        ('{"name": "save_note", "arguments": {"text": ""}}', "save_note: text: String should have at least 1"),
        ('{"name": save_note}', "unreadable action request"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_bad_requests_are_reported_not_run(body: str, message: str) -> None:
    requests, problems = REGISTRY.parse(f"<action>{body}</action>")
    assert requests == [] and len(problems) == 1 and message in problems[0]


def test_model_is_told_the_actions_and_their_schemas() -> None:
    prompt = REGISTRY.prompt()
    assert "<action>" in prompt and all(name in prompt for name in REGISTRY.actions)
    assert "save_note(text)" in prompt and "write_file(path, content)" in prompt


def test_save_note_and_files_inside_the_workspace(ctx: ActionContext) -> None:
    def run(body: str) -> str:
        (request,), _ = REGISTRY.parse(f"<action>{body}</action>")
        return REGISTRY.execute(request, ctx)

    run('{"name": "save_note", "arguments": {"text": "buy milk"}}')
    assert "buy milk" in ctx.notes_file.read_text()
    run('{"name": "write_file", "arguments": {"path": "sub/a.txt", "content": "hello"}}')
    assert (ctx.workspace / "sub" / "a.txt").read_text() == "hello"
    assert run('{"name": "read_file", "arguments": {"path": "sub/a.txt"}}') == "hello"
    with pytest.raises(ActionError, match="never overwrites"):
        run('{"name": "write_file", "arguments": {"path": "sub/a.txt", "content": "again"}}')
    with pytest.raises(ActionError, match="no such file"):
        run('{"name": "read_file", "arguments": {"path": "nope.txt"}}')


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "must be relative"),
        ("~/secrets", "must be relative"),
        ("../outside.txt", "may not contain '..'"),
        ("a/../../outside.txt", "may not contain '..'"),
        ("link/escape.txt", "leaves the workspace"),
        ("filelink", "leaves the workspace"),
    ],
)
def test_paths_cannot_leave_the_workspace(ctx: ActionContext, path: str, message: str) -> None:
    outside = ctx.workspace.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text("secret")
    if not (ctx.workspace / "link").exists():
        os.symlink(outside, ctx.workspace / "link")
        os.symlink(outside / "secret.txt", ctx.workspace / "filelink")
    with pytest.raises(ActionError, match=message):
        confine(ctx.workspace, path)


def test_command_actions_run_argv_without_a_shell(ctx: ActionContext, tmp_path: Path) -> None:
    config = CommandActionConfig(description="echo", argv=["echo", "say:", "{words}"], args={"words": "what to say"},
                                 risk="writes", enabled=True)  # fmt: skip
    registry = Registry([command_action("say", config)])
    (request,), _ = registry.parse('<action>{"name": "say", "arguments": {"words": "hi; touch pwned"}}</action>')
    assert registry.execute(request, ctx) == "say: hi; touch pwned"  # the ; reached echo as text
    assert not (Path.cwd() / "pwned").exists()
    _, problems = registry.parse('<action>{"name": "say", "arguments": {"words": "--version"}}</action>')
    assert "may not start with '-'" in problems[0]


def test_a_failing_command_is_an_action_error(ctx: ActionContext) -> None:
    config = CommandActionConfig(description="fails", argv=["false"], enabled=True)
    registry = Registry([command_action("fail", config)])
    (request,), _ = registry.parse('<action>{"name": "fail", "arguments": {}}</action>')
    with pytest.raises(ActionError, match="exited with 1"):
        registry.execute(request, ctx)


def test_grammar_schema_has_every_action_and_no_length_limits() -> None:
    schema = REGISTRY.request_schema()
    names = [option["properties"]["name"]["const"] for option in schema["oneOf"]]
    assert names == list(REGISTRY.actions)
    assert "maxLength" not in str(schema)


def test_the_registry_names_the_action_that_would_back_a_claim() -> None:
    assert REGISTRY.backer("save", "I've saved that note for you.") == "save_note"
    assert REGISTRY.backer("save", "I've saved notes.txt in the workspace.") == "write_file"  # about a file
    assert REGISTRY.backer("read", "I read the file from your workspace.") == "read_file"
    assert REGISTRY.backer("read", "I read your message twice.") is None  # not about a file
    assert REGISTRY.backer("export", "The conversation has been exported.") == "export_conversation"
    assert REGISTRY.backer("book", "I've booked a table.") is None  # nothing Parley can do


def test_command_actions_declare_what_they_back() -> None:
    notify = CommandActionConfig(description="notify", argv=["true"], enabled=True, backs=["send", "Notify"])
    off = CommandActionConfig(description="off", argv=["true"], backs=["book"])  # not enabled: not offered
    registry = Registry.from_config(ActionsConfig(commands={"notify": notify, "off": off}))
    assert "notify" in registry.actions and "off" not in registry.actions
    assert registry.backer("notify", "I've notified the team.") == "notify"
    assert registry.backer("send", "I've sent the notification.") == "notify"
    assert registry.backer("book", "I've booked it.") is None
    assert Registry.from_config(ActionsConfig(enabled=False)).actions == {}
