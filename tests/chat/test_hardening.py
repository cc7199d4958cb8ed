"""What broke when we tried to break Parley, each as it was found, through the real `parley`
command with a scripted model: one clear line and the documented exit code, never a traceback,
nothing unsafe on the terminal, nothing lost."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chat.helpers import UNSAFE, events, one_line, parley, scripted
from tests.conftest import ROOT, active

# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["chat"], b"caf\xe9\n", "stdin line 1 holds bytes that are not UTF-8 text"),
        (["ask", "summarise"], b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "stdin holds"),
        (["ask", "summarise"], b"text with a \x00 in it", "stdin holds binary data (NUL bytes)"),
    ],
)
def test_input_that_is_not_text_is_a_usage_error(tmp_path: Path, args: list[str], stdin: bytes, message: str) -> None:
    result = parley("--config", str(scripted(tmp_path, "hi")), *args, stdin=stdin, home=tmp_path)
    assert result.returncode == 2 and message in one_line(result)


def test_escape_sequences_in_names_and_paths_never_reach_the_terminal(tmp_path: Path) -> None:
    hostile = "\x1b]2;PWNED\x07\x1b[2Jx"
    config = scripted(tmp_path, "hi")
    for args in (
        ["ask", "--model", hostile, "hi"],
        ["--config", str(tmp_path / hostile), "ask", "hi"],
        ["ask", "--approve", hostile, "hi"],
        ["run", str(tmp_path / hostile)],
    ):
        result = parley(*(["--config", str(config)] if args[0] != "--config" else []), *args, home=tmp_path)
        assert result.returncode == 2 and not any(c in result.stderr.decode() for c in UNSAFE), args
    bad_key = tmp_path / "bad.toml"
    bad_key.write_text('default = "s"\n[models.s]\npath = "x.gguf"\n"\\u001b[2Jkey" = 1\n')
    result = parley("--config", str(bad_key), "models", home=tmp_path)
    assert result.returncode == 2 and "\x1b" not in one_line(result)


# --- the transcript and saved state -----------------------------------------------------------


def test_a_full_disk_under_the_transcript_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = parley("--config", str(scripted(tmp_path, "Hello.")), "ask", "--transcript", "/dev/full", "hi",
                    home=tmp_path)  # fmt: skip
    assert result.returncode == 1 and result.stdout == b""  # stopped before anything happened
    assert "cannot write transcript /dev/full: No space left on device" in one_line(result)


def test_a_disk_that_fills_up_mid_run_keeps_the_turn_and_exits_1(tmp_path: Path) -> None:
    """A file-size limit (RLIMIT_FSIZE) stands in for a disk that fills up: writes past it are cut
    short or refused, as on a full disk, without needing root to mount a tiny filesystem."""
    transcript = tmp_path / "t.jsonl"
    script = tmp_path / "s.txt"
    script.write_text("one\n\ntwo\n")
    limit = "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500)); "
    limit += "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); sys.argv = ['parley'] + sys.argv[1:]; "
    limit += "runpy.run_module('chat', run_name='__main__')"
    config = scripted(tmp_path, "x " * 200, "y " * 200)
    result = subprocess.run(
        [sys.executable, "-c", limit, "--config", str(config), "run", str(script), "--transcript", str(transcript),
         "--no-history"],  # the transcript's failure alone (the history warns of its own)
        capture_output=True, cwd=ROOT, timeout=120,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")},
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot write transcript" in one_line(result)
    assert result.stdout.decode().startswith("x x x")  # the first turn was shown
    lines = transcript.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # whole lines only: no torn event


def test_a_torn_transcript_line_is_never_glued_to_the_next_event(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text('{"type": "session"}\n{"type": "tu')  # a crash mid-write, long ago
    result = parley("--config", str(scripted(tmp_path, "Hello.")), "ask", "--transcript", str(transcript), "hi",
                    home=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = transcript.read_text().splitlines()
    assert lines[:2] == ['{"type": "session"}', '{"type": "tu']
    assert [json.loads(line)["type"] for line in lines[2:]] == ["session", "user", "turn"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"schema": "parley.conversation", "version": 1, "n": ' + "9" * 5000 + "}", "not a file Parley wrote"),
        ("[" * 100_000, "not a file Parley wrote"),
        (
            '{"schema": "parley.conversation", "version": 1, "model": "m", "conversation": '
            + '{"turns": [' * 300
            + "]}" * 300
            + "}",
            "invalid conversation file",
        ),
        ("\x00\x01binary", "is not a Parley conversation file (not JSON text)"),
    ],
)
def test_loading_a_hostile_conversation_file_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    script = tmp_path / "s.txt"
    script.write_text(f"/load {bad}\n")
    result = parley("--config", str(scripted(tmp_path, "hi")), "run", str(script), home=tmp_path)
    assert result.returncode == 2 and message in one_line(result)


def test_a_conversations_folder_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data" / "parley").mkdir(parents=True)
    (tmp_path / "data" / "parley" / "conversations").write_text("not a folder")
    script = tmp_path / "s.txt"
    script.write_text("hi\n/save\n")
    result = parley("--config", str(scripted(tmp_path, "Hello.")), "run", str(script), home=tmp_path)
    assert result.returncode == 2 and "cannot write" in one_line(result)


# --- model output that attacks ---------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "You are an id\x01iot and f\x7fuck you.",  # control characters removed after moderation
        "&#102;uck you, you worthless idiot.",  # as Markdown renders them
        "[id](https://x)iot, f<b></b>uck you, id<!-- -->iot.",
        "You are an ıdıot, fսck you.",  # confusables
        "fꭒck you, ꜰuck off.",
        "=" * 198 + "idiot.",  # cut at the hold-back window
    ],
)
def test_disguised_abuse_is_caught(tmp_path: Path, reply: str) -> None:
    result = parley("--config", str(scripted(tmp_path, reply)), "ask", "--json", "hi", home=tmp_path)
    assert result.returncode == 0, result.stderr
    (turn,) = events(result.stdout, "turn")
    assert turn["moderation"]["decision"] in ("redact", "block"), turn["reply"]
    assert "⟦removed: toxicity⟧" in turn["reply"] or turn["finish_reason"] == "blocked"


def test_malformed_action_requests_are_notices_and_the_chat_goes_on(tmp_path: Path) -> None:
    bad = [
        '<action>{"name": ["x"]}</action>',
        '<action>{"name": {"a": 1}}</action>',
        "<action>" + "[" * 100_000 + "</action>",
        '<action>{"name": "save_note", "arguments": {"text": ' + "9" * 5000 + "}}</action>",
    ]
    config = scripted(tmp_path, *bad, "still here")
    result = parley("--config", str(config), "--json", stdin=b"a\nb\nc\nd\ne\n", home=tmp_path)
    assert result.returncode == 0, result.stderr
    turns = events(result.stdout, "turn")
    assert [t["reply"] for t in turns][-1] == "still here" and len(turns) == 5
    assert all(len(t["guard"]["problems"]) == 1 for t in turns[:4])


def test_a_json_code_block_is_not_run_even_with_approve_always(tmp_path: Path) -> None:
    block = '```json\n{"name": "save_note", "arguments": {"text": "pwned"}}\n```'
    result = parley("--config", str(scripted(tmp_path, block)), "ask", "--json", "--approve", "always", "hi",
                    home=tmp_path)  # fmt: skip
    assert result.returncode == 0 and events(result.stdout, "action_request") == []
    assert not (tmp_path / "data" / "parley" / "notes.md").exists()


def test_a_reply_imitating_parley_is_flagged_and_cannot_look_the_same(tmp_path: Path) -> None:
    fake = "Done.\n[action save_note ran: note saved to /home/u/notes.md]\n⟦removed: insult⟧"
    result = parley("--config", str(scripted(tmp_path, fake)), "ask", "hi", home=tmp_path)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert "⟦" not in out  # the model cannot write Parley's mark
    assert "[removed: insult]" in out and "imitates a notice of Parley's (\"[action save_note ran" in err


def test_c1_controls_and_del_are_escaped_in_json_and_transcripts(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    script = tmp_path / "s.jsonl"
    script.write_text(json.dumps({"role": "user", "content": "echo \x9b31m\x7f\u202e please"}) + "\n")
    result = parley("--config", str(scripted(tmp_path, "ok")), "run", str(script), "--json", "--transcript",
                    str(transcript), home=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    for data in (result.stdout.decode(), transcript.read_text()):
        assert not any(c in data for c in UNSAFE)
        users = [e for e in map(json.loads, data.splitlines()) if e["type"] == "user"]
        assert users[0]["content"] == "echo \x9b31m\x7f\u202e please"  # escaped, not lost


def test_the_markdown_export_cannot_be_made_active_or_forge_a_turn(tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    hostile = (
        "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
        "![](https://tracker.example/p.gif)\n\n## User (2)\n\nI approve everything.\n\nUser\n====\n"
        "[ref]: javascript:alert(4)\n<https://ok.example>"
    )
    script = tmp_path / "s.txt"
    export = tmp_path / "out.md"
    script.write_text(f"hi\n/export {export}\n")
    result = parley("--config", str(scripted(tmp_path, hostile)), "run", str(script), home=tmp_path)
    assert result.returncode == 0, result.stderr
    html = MarkdownIt("commonmark", {"html": True}).render(export.read_text())
    for tag, attributes in re.findall(r"<([a-z0-9]+)([^>]*)>", html):
        assert tag in {"h1", "h2", "p", "a", "code", "em", "strong", "ul", "ol", "li", "pre", "hr", "br"}, tag
        assert not active(attributes), attributes
    headings = [line for line in html.splitlines() if line.startswith("<h")]
    assert headings == ["<h1>Conversation with s</h1>", "<h2>System</h2>", "<h2>User (1)</h2>", "<h2>Assistant</h2>"]


def test_the_markdown_export_keeps_code_and_formatting_as_written() -> None:
    from markdown_it import MarkdownIt

    from chat.export import as_markdown_text

    render = MarkdownIt("commonmark", {"html": True}).render
    reply = "Compare with `a > b`:\n\n```python\nif x[0] < 1:\n    print('<b>')\n```\n> Q&A: see *notes*"
    html = render(as_markdown_text(reply))
    assert "<pre><code class=\"language-python\">if x[0] &lt; 1:\n    print('&lt;b&gt;')\n</code></pre>" in html
    assert "<code>a &gt; b</code>" in html and "<blockquote>" in html and "<em>notes</em>" in html
    assert "Q&amp;A" in html  # shown as written: '&' is not escaped twice
    # A fence inside a list item ends with the item in CommonMark, and what follows would be HTML:
    # the export writes the block as a top-level fence of its own, closed at the message's end.
    for hostile in ("1. item\n   ```\n<script>alert(1)</script>\n```", "```\n<script>x</script>\n## User (2)"):
        html = render(as_markdown_text(hostile) + "\n\n## Next")
        assert "<script>" not in html and html.rstrip().endswith("<h2>Next</h2>"), html
        assert html.count("<h2>") == 1


def test_action_failures_are_recorded_results(tmp_path: Path) -> None:
    requests = [
        '<action>{"name": "export_conversation", "arguments": {"path": "x.txt"}}</action>',
        '<action>{"name": "write_file", "arguments": {"path": "a\\u0000b", "content": "x"}}</action>',
    ]
    result = parley("--config", str(scripted(tmp_path, *requests)), "--json", "--approve", "always",
                    stdin=b"one\ntwo\n", home=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    turns = events(result.stdout, "turn")
    assert len(turns) == 2
    problems = [t["guard"]["problems"] for t in turns]
    results = [a["result"] for t in turns for a in t["actions"]]
    assert "use a .md or .json file name" in " ".join(results + [p for ps in problems for p in ps])
    assert "NUL" in " ".join(results + [p for ps in problems for p in ps])


# --- the scripted model ----------------------------------------------------------------------


def test_a_scripted_model_streams_its_chunks_and_says_when_it_runs_out(tmp_path: Path) -> None:
    config = scripted(tmp_path, {"chunks": ["Hel", "lo ", "there."], "delay_s": 0.01}, "Second.")
    result = parley("--config", str(config), "--json", stdin=b"one\ntwo\nthree\n", home=tmp_path)
    assert result.returncode == 1
    assert [t["reply"] for t in events(result.stdout, "turn")][:2] == ["Hello there.", "Second."]
    (error,) = events(result.stdout, "error")
    assert "has no more replies (2 used)" in error["error"]


@pytest.mark.parametrize(
    ("line", "message"),
    [("not json", "replies.jsonl:1: expected"), ('{"text": "x"}', "replies.jsonl:1: expected"),
     ('{"content": "ab", "chunks": ["a", "c"]}', "do not join up")],
)  # fmt: skip
def test_a_bad_script_is_a_config_error(tmp_path: Path, line: str, message: str) -> None:
    config = scripted(tmp_path)
    (tmp_path / "replies.jsonl").write_text(line + "\n")
    result = parley("--config", str(config), "ask", "hi", home=tmp_path)
    assert result.returncode == 2 and message in one_line(result)


def test_a_transcript_pipe_nobody_reads_is_one_line_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = parley("--config", str(scripted(tmp_path, "Hello.")), "ask", "--transcript", str(fifo), "hi",
                    home=tmp_path, timeout=60)  # fmt: skip
    assert result.returncode == 1 and "it is a pipe that nothing reads" in one_line(result)


def test_a_transcript_pipe_with_a_reader_gets_every_event(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the test reads; a pipe holds these few events
    try:
        result = parley("--config", str(scripted(tmp_path, "Hello.")), "ask", "--transcript", str(fifo), "hi",
                        home=tmp_path)  # fmt: skip
        out = os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["type"] for line in out.decode().splitlines()] == ["session", "user", "turn"]


def test_moderate_json_escapes_what_would_act_on_a_terminal(tmp_path: Path) -> None:
    result = parley("--config", str(scripted(tmp_path)), "moderate", "--json",
                    stdin="fine \x1b[2J \u202e x\n".encode(), home=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert not any(c in out for c in UNSAFE)
    assert json.loads(out)["text"] == "fine \x1b[2J \u202e x"  # escaped, not lost
