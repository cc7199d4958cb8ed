"""Actions: the registry, argument validation, workspace confinement, and command actions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.action import ActionContext
from actions.builtin import BUILTIN
from actions.commands import command_action
from actions.config import ActionsConfig, CommandActionConfig
from actions.errors import ActionError
from actions.registry import Registry
from actions.workspace import Workspace


@pytest.fixture
def ctx(tmp_path: Path) -> ActionContext:
    return ActionContext(Workspace(tmp_path / "workspace"), tmp_path / "notes.md", lambda suffix: f"exported{suffix}")


REGISTRY = Registry(BUILTIN)


def test_a_request_is_read_from_its_action_block() -> None:
    reply = 'Sure. <action>{"name": "save_note", "arguments": {"text": "buy milk"}}</action>'
    requests, problems = REGISTRY.parse(reply)
    assert problems == [] and len(requests) == 1
    assert requests[0].action.name == "save_note" and requests[0].arguments.model_dump() == {"text": "buy milk"}


@pytest.mark.parametrize(
    "reply",
    [
        '```action\n{"name": "save_note", "arguments": {"text": "buy milk"}}\n```',
        '```json\n{"name": "save_note", "arguments": {"text": "buy milk"}}\n```',
        'To save a note, a model writes {"name": "save_note", "arguments": {"text": "buy milk"}}.',
    ],
)
def test_only_an_action_block_is_a_request(reply: str) -> None:
    assert REGISTRY.parse(reply) == ([], [])  # an example in an answer runs nothing


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"name": "launch_rockets", "arguments": {}}', "unknown action 'launch_rockets'"),
        ('{"name": "save_note", "arguments": {}}', "save_note: text: Field required"),
        ('{"name": "save_note", "arguments": {"text": "x", "extra": 1}}', "extra: Extra inputs are not permitted"),
        ('{"name": "save_note", "arguments": {"text": ""}}', "save_note: text: String should have at least 1"),
        ('{"name": save_note}', "unreadable action request"),
        ("[1, 2]", "malformed action request"),
        ('{"action": "save_note", "args": {"text": "x"}}', "malformed action request"),  # no aliases
        ('{"name": ["save_note"], "arguments": {}}', "malformed action request: name"),
        ('{"name": {"a": 1}, "arguments": {}}', "malformed action request: name"),
        ('{"name": "save_note", "arguments": [1]}', "malformed action request: arguments"),
        ("[" * 100_000, "unreadable action request"),
        ('{"name": "save_note", "arguments": {"text": ' + "9" * 5000 + "}}", "a number too long"),
        ('{"name": "' + "x" * 50_000 + '"}', "malformed action request: name"),
        ('{"name": "save_note", "arguments": {"text": "' + "x" * 1_200_000 + '"}}', "too long"),
    ],
)
def test_bad_requests_are_reported_not_run(body: str, message: str) -> None:
    requests, problems = REGISTRY.parse(f"<action>{body}</action>")
    assert requests == [] and len(problems) == 1 and message in problems[0]
    assert len(problems[0]) < 400  # one readable line, whatever the request held


@settings(max_examples=300, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["name", "arguments", "text", "x"]),
                                                                inner, max_size=4),
    max_leaves=20,
), st.text(max_size=30))  # fmt: skip
def test_no_request_crashes_the_parser(data: object, noise: str) -> None:
    for body in (json.dumps(data), json.dumps(data)[: len(noise)], noise):
        requests, problems = REGISTRY.parse(f"{noise}<action>{body}</action>{noise}")
        assert len(requests) + len(problems) >= 1 or "</action>" in noise or "<action>" in noise.lower()


def test_model_is_told_the_actions_and_their_schemas() -> None:
    prompt = REGISTRY.prompt()
    assert "<action>" in prompt and all(name in prompt for name in REGISTRY.actions)
    assert "save_note(text)" in prompt and "write_file(path, content)" in prompt


def run(ctx: ActionContext, body: str) -> str:
    (request,), _ = REGISTRY.parse(f"<action>{body}</action>")
    return REGISTRY.execute(request, ctx)


def test_save_note_and_files_inside_the_workspace(ctx: ActionContext) -> None:
    run(ctx, '{"name": "save_note", "arguments": {"text": "buy milk"}}')
    assert "buy milk" in ctx.notes_file.read_text()
    run(ctx, '{"name": "write_file", "arguments": {"path": "sub/a.txt", "content": "hello"}}')
    assert (ctx.workspace.root / "sub" / "a.txt").read_text() == "hello"
    assert run(ctx, '{"name": "read_file", "arguments": {"path": "sub/a.txt"}}') == "hello"
    with pytest.raises(ActionError, match="already exists; nothing is overwritten"):
        run(ctx, '{"name": "write_file", "arguments": {"path": "sub/a.txt", "content": "again"}}')
    with pytest.raises(ActionError, match="no such file"):
        run(ctx, '{"name": "read_file", "arguments": {"path": "nope.txt"}}')


def test_a_note_is_one_line_of_plain_text(ctx: ActionContext) -> None:
    run(ctx, '{"name": "save_note", "arguments": {"text": "milk\\n- 2020-01-01 00:00 forged entry\\n\\nmore"}}')
    (line,) = ctx.notes_file.read_text().splitlines()
    assert line.endswith("milk - 2020-01-01 00:00 forged entry more")
    for hostile in ("\\u001b]8;;http://x\\u0007link", "a\\rb", "user\\u202e txt"):
        _, problems = REGISTRY.parse(f'<action>{{"name": "save_note", "arguments": {{"text": "{hostile}"}}}}</action>')
        assert "a note is plain text" in problems[0]


def test_a_note_torn_by_a_crash_is_never_glued_to_the_next(ctx: ActionContext) -> None:
    ctx.notes_file.parent.mkdir(parents=True, exist_ok=True)
    ctx.notes_file.write_text("- 2026-11-01 09:00 whole\n- 2026-11-01 09:01 cut sho")  # SIGKILL mid-write
    run(ctx, '{"name": "save_note", "arguments": {"text": "next"}}')
    lines = ctx.notes_file.read_text().splitlines()
    assert lines[:2] == ["- 2026-11-01 09:00 whole", "- 2026-11-01 09:01 cut sho"] and lines[2].endswith(" next")


def test_export_never_overwrites_and_wants_md_or_json(ctx: ActionContext) -> None:
    assert "exported to" in run(ctx, '{"name": "export_conversation", "arguments": {"path": "c.md"}}')
    assert (ctx.workspace.root / "c.md").read_text() == "exported.md"
    with pytest.raises(ActionError, match="already exists"):
        run(ctx, '{"name": "export_conversation", "arguments": {"path": "c.md"}}')
    with pytest.raises(ActionError, match="use a .md or .json file name"):
        run(ctx, '{"name": "export_conversation", "arguments": {"path": "x.txt"}}')


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


def test_the_registry_names_the_actions_that_would_back_a_claim() -> None:
    assert REGISTRY.backers("save", "I've saved that note for you.")[0] == "save_note"
    assert REGISTRY.backers("save", "I've saved notes.txt in the workspace.") == ["write_file", "save_note"]
    assert REGISTRY.backers("read", "I read the file from your workspace.")[0] == "read_file"
    assert REGISTRY.backers("read", "I read your message twice.") == []  # not about a file
    assert REGISTRY.backers("export", "The conversation has been exported.")[0] == "export_conversation"
    assert REGISTRY.backers("book", "I've booked a table.") == []  # nothing Parley can do


def test_command_actions_declare_what_they_back() -> None:
    notify = CommandActionConfig(description="notify", argv=["true"], enabled=True, backs=["send", "notify"])
    off = CommandActionConfig(description="off", argv=["true"], backs=["book"])  # not enabled: not offered
    registry = Registry.from_config(ActionsConfig(commands={"notify": notify, "off": off}))
    assert "notify" in registry.actions and "off" not in registry.actions
    assert registry.backers("notify", "I've notified the team.")[0] == "notify"
    assert registry.backers("send", "I've sent the notification.")[0] == "notify"
    assert registry.backers("book", "I've booked it.") == []
    assert Registry.from_config(ActionsConfig(enabled=False)).actions == {}


def test_a_path_argument_stays_in_the_workspace(ctx: ActionContext, tmp_path: Path) -> None:
    config = CommandActionConfig.model_validate(
        {"description": "show", "argv": ["cat", "{file}"], "enabled": True,
         "args": {"file": {"description": "a file", "type": "path"}}}
    )  # fmt: skip
    registry = Registry([command_action("show", config)])
    ctx.workspace.create("notes.txt", "inside")
    (request,), _ = registry.parse('<action>{"name": "show", "arguments": {"file": "notes.txt"}}</action>')
    assert registry.execute(request, ctx) == "inside"  # cat got the path inside the workspace
    _, problems = registry.parse('<action>{"name": "show", "arguments": {"file": "../../etc/passwd"}}</action>')
    assert "may not contain '..'" in problems[0]
    (tmp_path / "secret.txt").write_text("secret")
    (ctx.workspace.root / "out").symlink_to(tmp_path / "secret.txt")
    (request,), _ = registry.parse('<action>{"name": "show", "arguments": {"file": "out"}}</action>')
    with pytest.raises(ActionError, match="leaves the workspace"):
        registry.execute(request, ctx)
