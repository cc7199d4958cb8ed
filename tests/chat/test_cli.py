"""The headless modes, in process, with the fake engine in place of llama.cpp."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path

import pytest

from chat.cli import subcommand_first
from chat.config import ModelConfig
from chat.engine import Engine
from chat.runner import Runner
from chat.script import Step
from chat.session import Session
from tests.chat.helpers import parley
from tests.conftest import Cli
from tests.conftest import json_events as events


def test_ask_prints_the_reply(run: Cli) -> None:
    code, out, err = run("ask", "hello", "world")
    assert code == 0
    assert out == "You said: hello world\n"


def test_ask_appends_piped_stdin(run: Cli) -> None:
    code, out, _ = run("ask", "summarize:", stdin="line one\nline two\n")
    assert code == 0
    assert run.loader.engines[0].calls[0].messages[-1]["content"] == "summarize:\n\nline one\nline two"


def test_ask_without_a_question_is_a_usage_error(run: Cli) -> None:
    code, out, err = run("ask")
    assert code == 2 and "ask needs a question" in err


def test_json_events_carry_usage_context_timing(run: Cli) -> None:
    code, out, _ = run("ask", "--json", "--set", "temperature=0.1", "--seed", "5", "hi")
    assert code == 0
    session, user, turn = events(out)
    assert session["type"] == "session" and session["params"]["seed"] == 5
    code, out, _ = run("ask", "--json", "--seed", "-1", "hi")  # -1: random, as in llama.cpp and --set seed=-1
    assert code == 0 and events(out)[0]["params"]["seed"] is None
    code, out, _ = run("models", "--json")
    models = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and sum(m["default"] for m in models) == 1
    assert all({"name", "source", "path", "size_bytes", "n_ctx", "served"} <= set(m) for m in models)
    assert user == {"type": "user", "time": user["time"], "content": "hi"}
    assert turn["type"] == "turn" and turn["reply"] == "You said: hi"
    assert turn["finish_reason"] == "stop"
    assert turn["params"]["temperature"] == 0.1
    assert turn["usage"]["prompt_tokens"] > 0 and turn["usage"]["completion_tokens"] == 5
    assert turn["context"]["n_ctx"] == 2048 and turn["context"]["dropped_turns"] == []
    assert set(turn["timing"]) == {"ttft_s", "total_s", "tokens_per_s"}
    assert turn["moderation"] == {"decision": "allow", "backend": "offline", "flagged": [], "model": None}
    assert turn["guard"] == {"problems": [], "claims": [], "pending": [], "imitations": []} and turn["actions"] == []


def test_run_text_script(run: Cli, tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("First.\n\n/temp 0.2\nSecond\nstill second.\n/context\n")
    code, out, err = run("run", str(script), "--json")
    assert code == 0
    kinds = [e["type"] for e in events(out)]
    assert kinds == ["session", "user", "turn", "command", "user", "turn", "command"]
    turns = [e for e in events(out) if e["type"] == "turn"]
    assert turns[1]["user"] == "Second\nstill second." and turns[1]["params"]["temperature"] == 0.2


def test_run_jsonl_script(run: Cli, tmp_path: Path) -> None:
    script = tmp_path / "s.jsonl"
    script.write_text(
        '{"role": "user", "content": "a"}\n{"command": "/max_tokens 2"}\n{"role": "user", "content": "b"}\n'
    )
    code, out, err = run("run", str(script))
    assert code == 0
    assert out.splitlines() == ["You said: a", "You "]  # two tokens: "You", " "
    assert "⟦cut at max_tokens = 2⟧" in err


def test_script_stops_at_a_bad_command_with_exit_2(run: Cli, tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("one\n/temp 7\ntwo\n")
    code, out, err = run("run", str(script))
    assert code == 2
    assert out.splitlines() == ["You said: one"]
    assert "temperature: expected a number from 0 to 2" in err


def test_piped_chat_reads_a_multi_line_message_between_three_quotes(run: Cli) -> None:
    stdin = 'hi\n"""\nline one\n\n  indented\n/not a command\n"""\nbye\n"""\nleft open\n'
    code, out, _ = run("chat", "--json", stdin=stdin)
    sent = [e["content"] for e in events(out, "user")]
    assert code == 0 and sent == ["hi", "line one\n\n  indented\n/not a command", "bye", "left open"]


def test_piped_chat_keeps_going_after_an_error(run: Cli) -> None:
    code, out, err = run("chat", stdin="hi\n/nope\nbye\n")
    assert code == 2
    assert out.splitlines() == ["You said: hi", "You said: bye"]
    assert "unknown command '/nope'" in err


def test_bad_set_and_unknown_prompt_are_usage_errors(run: Cli) -> None:
    assert run("ask", "--set", "temperature", "x")[0] == 2
    code, _, err = run("ask", "--prompt", "nosuch", "x")
    assert code == 2 and "unknown prompt preset 'nosuch'" in err


def test_system_and_prompt_options(run: Cli) -> None:
    run("ask", "--prompt", "tutor", "x")
    assert "tokens" in run.loader.engines[-1].calls[0].messages[0]["content"]
    run("ask", "--system", "Be terse.", "x")
    assert run.loader.engines[-1].calls[0].messages[0] == {"role": "system", "content": "Be terse."}
    run("ask", "--system", "", "x")  # no system prompt at all, not the default one
    assert not any("You are Parley" in m["content"] for m in run.loader.engines[-1].calls[0].messages)


def test_transcript_appends_every_event(run: Cli, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    run("chat", "--transcript", str(path), stdin="one\n/temp 0.5\ntwo\n")
    first = [json.loads(line)["type"] for line in path.read_text().splitlines()]
    assert first == ["session", "user", "turn", "command", "user", "turn"]
    run("ask", "--transcript", str(path), "three")
    assert len(path.read_text().splitlines()) == len(first) + 3  # appended, never rewritten


def test_a_named_transcript_never_goes_into_a_file_of_the_user_s_or_makes_a_folder(run: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for path, said in [(notes, "is not a transcript"), (tmp_path, "is a folder"), (tmp_path / "no" / "t.jsonl",
                       "no such folder")]:  # fmt: skip
        code, _, err = run("ask", "--transcript", str(path), "x")
        assert code == 2 and said in err and not run.loader.engines  # before the model loads
    assert notes.read_text() == "my notes\n" and not (tmp_path / "no").exists()


def test_reply_escape_sequences_never_reach_the_terminal(run: Cli) -> None:
    run.loader.replies = ("\x1b]0;pwned\x07\x1b[2J[red]ok[/red]",)
    code, out, _ = run("ask", "x")
    assert out == "]0;pwned[2J[red]ok[/red]\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--config", "x.toml", "ask", "hi"], ["ask", "--config", "x.toml", "hi"]),
        (["-m", "fake", "--json", "run", "s.txt"], ["run", "-m", "fake", "--json", "s.txt"]),
        (["--set", "temperature=0", "--line"], ["chat", "--set", "temperature=0", "--line"]),
        (["--system", "ask", "hi"], ["chat", "--system", "ask", "hi"]),  # "ask" is --system's value here
        ([], ["chat"]),
        (["--version"], ["--version"]),
    ],
)
def test_options_may_come_before_the_subcommand(argv: list[str], expected: list[str]) -> None:
    assert subcommand_first(argv) == expected


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["nosuchcmd"], "unknown command 'nosuchcmd' (one of: chat, ask"),
        (["ask", "--seed", "abc", "hi"], "seed: expected a number from 0 to 4294967295 (got 'abc'"),
        (["ask", "--temp", "0.5", "hi"], "unrecognized arguments: --temp (settings are --set NAME=VALUE;"),
        (["ask", "--model"], "argument --model/-m: expected one argument"),
    ],
)
def test_a_bad_command_line_is_one_line(args: list[str], says: str, tmp_path: Path) -> None:
    result = parley(*args, home=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.decode().splitlines()  # not argparse's usage block first
    assert line.startswith("parley") and says in line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--set", "temperature=abc"], "temperature: expected a number from 0 to 2"),
        (["--seed", "x"], "seed: expected a number"),
        (["--prompt", "suport"], "unknown prompt preset 'suport'; did you mean 'support'?"),
        (["--allow-irreversible", "write_fiel"], "--allow-irreversible write_fiel: no such action"),
    ],
)
def test_bad_options_are_told_before_a_model_loads(run: Cli, args: list[str], says: str) -> None:
    """A typo is told at once, not after the model's load (seconds for a large one)."""
    scripted = run.loader
    loads: list[str] = []

    def loader(name: str, config: ModelConfig) -> Engine:
        loads.append(name)
        return scripted(name, config)

    run.loader = loader  # type: ignore[assignment]
    code, out, err = run("ask", *args, "hi")
    assert (code, out, loads) == (2, "", [])
    assert says in err and err.count("\n") == 1


def test_an_error_before_the_session_is_an_error_event_in_json(run: Cli) -> None:
    code, out, err = run("ask", "--json", "--set", "top_k=many", "hi")
    (event,) = events(out)
    assert code == 2 and event["type"] == "error" and event["error"].startswith("top_k: expected")
    assert err == f"parley: error: {event['error']}\n"


def test_a_fault_of_parleys_own_is_one_line_and_a_report(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr("chat.pipeline.Pipeline._finish", broken)
    code, out, err = run("ask", "hi")
    assert code == 1 and out == "You said: hi"  # what was shown stays shown
    (line,) = err.splitlines()
    assert line.startswith("parley: internal error (IndexError: list index out of range); this is a bug in Parley")
    report = Path(line.rsplit("the details are in ", 1)[1])
    assert "Traceback" in report.read_text() and "broken" in report.read_text()


def test_global_options_before_the_subcommand_work(run: Cli) -> None:
    code, out, _ = run("--json", "--seed", "3", "ask", "hi")  # the fixture puts --config first too
    assert code == 0 and events(out, "turn")[0]["params"]["seed"] == 3


def test_an_interactive_line_chat_exits_with_its_last_steps_code(session: Session) -> None:
    def exit_code(*lines: str) -> int:
        runner = Runner(session, out=io.StringIO(), err=io.StringIO(), interactive=True)
        return runner.run([Step("command" if line.startswith("/") else "user", line, 1) for line in lines], True)

    assert exit_code("hi", "/nope") == 2  # as a shell does: the last command's status
    assert exit_code("/nope", "hi") == 0
    piped = Runner(session, out=io.StringIO(), err=io.StringIO())
    assert piped.run([Step("command", "/nope", 1), Step("user", "hi", 2)], keep_going=True) == 2  # the first error


def test_keys_typed_while_a_line_chat_reply_streams_are_not_echoed_into_it(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins
    import os
    import pty
    import termios

    from chat.pipeline import Question

    def echoing() -> bool:
        return bool(termios.tcgetattr(sys.stdin.fileno())[3] & termios.ECHO)

    main, secondary = pty.openpty()
    try:
        monkeypatch.setattr(sys, "stdin", os.fdopen(secondary, "r", closefd=False))
        seen: list[bool] = []

        def watched(runner: Runner) -> Runner:
            """`runner`, noting whether the terminal echoes while its pipeline sends a message."""
            send = runner.pipeline.send

            def watched_send(text: str, cancel: object) -> None:
                seen.append(echoing())
                send(text, cancel)  # type: ignore[arg-type]

            monkeypatch.setattr(runner.pipeline, "send", watched_send)
            return runner

        def watched_input(*_: object) -> str:
            seen.append(echoing())
            return "y"

        monkeypatch.setattr(builtins, "input", watched_input)
        runner = watched(Runner(session, out=io.StringIO(), err=io.StringIO(), interactive=True))
        runner.run([Step("user", "hi", 1)])
        assert runner.ask(Question("Run it?", "a command", "Run"))  # an answer is echoed as typed
        assert seen == [False, True] and echoing()  # and after the reply, the prompt echoes again
        watched(Runner(session, out=io.StringIO(), err=io.StringIO())).run([Step("user", "hi", 1)])
        assert seen == [False, True, True]  # `parley ask` leaves the terminal as it is while it streams
    finally:
        os.close(main)
        os.close(secondary)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_copy_in_a_terminal_writes_osc_52_and_without_one_says_so(session: Session) -> None:
    session.engine.enqueue("Use `ls`:\n\n```\nls -la\n```")  # type: ignore[attr-defined]
    terminal, piped = Terminal(), io.StringIO()
    runner = Runner(session, out=io.StringIO(), err=terminal)
    runner.run([Step("user", "how?", 1), Step("command", "/copy code", 2)])
    assert "\x1b]52;c;" + base64.b64encode(b"ls -la\n").decode() + "\x07" in terminal.getvalue()
    Runner(session, out=io.StringIO(), err=piped).run([Step("command", "/copy", 1)])
    assert "no terminal to copy to" in piped.getvalue() and "\x1b]52" not in piped.getvalue()


def test_edit_alone_in_line_mode_opens_the_message_in_the_editor(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chat.linechat import read_interactive
    from chat.pipeline import Pipeline

    Pipeline(session).send("What is a llama?")
    editor = tmp_path / "editor.py"
    editor.write_text(  # an editor that changes the text it is given
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('a llama', 'an alpaca'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    typed: list[str] = []

    def typing(_prompt: str) -> str:
        if not typed:
            raise EOFError  # Ctrl+D
        return typed.pop(0)

    monkeypatch.setattr("builtins.input", typing)
    typed += ["/edit 1", "/edit 7", "hello"]
    steps = list(read_interactive(session))
    assert [s.text for s in steps] == ["/edit 1 What is an alpaca?", "hello"]  # /edit 7: no such message, said
    monkeypatch.delenv("EDITOR")
    monkeypatch.delenv("VISUAL", raising=False)
    typed.append("/edit 1")
    assert list(read_interactive(session)) == []


def test_a_bad_command_line_with_json_is_an_error_event_too(tmp_path: Path) -> None:
    result = parley("ask", "--json", "--approve", "maybe", "hi", home=tmp_path)
    (event,) = events(result.stdout.decode())
    assert result.returncode == 2 and event["type"] == "error" and "invalid choice: 'maybe'" in event["error"]
    assert result.stderr.decode() == f"parley ask: error: {event['error']}\n"
    listing = parley("models", "--json", "--bogus", home=tmp_path)  # its lines are models, not events
    assert listing.returncode == 2 and listing.stdout == b""
