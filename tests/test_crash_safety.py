"""kill -9 in the middle of every way Parley writes a file: the transcript, the autosave (and
/save, /export), a note, a file in the workspace. Whatever moment the process dies, what is on
disk is whole: complete JSON lines, a valid conversation, one note a line, complete files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actions.action import ActionContext
from actions.builtin import BUILTIN
from actions.registry import Registry
from actions.workspace import Workspace
from chat import conversation as conv_file
from chat.transcript import Transcript
from tests.conftest import ROOT

BIG = "x" * 200_000  # big enough that a write takes a while to land

WRITERS = {
    "transcript": """
from chat.transcript import Transcript
t = Transcript(target / "t.jsonl")
for i in range(100000):
    t.write({"type": "turn", "n": i, "reply": BIG})
""",
    "autosave": """
from chat import conversation as c
from chat.sampling import Sampling
conv = c.Conversation()
for i in range(100000):
    conv.turns.append(c.Turn(user=BIG[: 1000 * i]))
    c.save(target / "autosave.json", conv, "m", Sampling())
""",
    "note": """
from pathlib import Path
from actions.action import ActionContext
from actions.builtin import BUILTIN
from actions.registry import Registry
from actions.workspace import Workspace
registry = Registry(BUILTIN)
ctx = ActionContext(Workspace(target / "ws"), target / "notes.md", lambda s: "")
for i in range(100000):
    request = registry.read('{"name": "save_note", "arguments": {"text": "note %d %s"}}' % (i, "y" * 5000))
    registry.execute(request, ctx)
""",
    "workspace": """
from actions.workspace import Workspace
ws = Workspace(target / "ws")
for i in range(100000):
    ws.create(f"f{i}.txt", BIG)
""",
}


def check(kind: str, target: Path) -> int:
    """The files as they must be after a crash; returns how many entries were written whole."""
    if kind == "transcript":
        path = target / "t.jsonl"
        text = path.read_text()
        lines = text.splitlines()
        if text and not text.endswith("\n"):
            # Linux may cut a big write() short when SIGKILL arrives: that line's event was never
            # written whole, so it was never done; the next run starts on a new line after it
            lines.pop()
            transcript = Transcript(path)
            transcript.write({"type": "next run"})
            transcript.close()
            assert json.loads(path.read_text().splitlines()[-1]) == {"type": "next run"}
        assert all(json.loads(line)["reply"] == BIG for line in lines)
        return len(lines)
    if kind == "autosave":
        path = target / "autosave.json"
        if not path.exists():
            return 0
        return len(conv_file.load(path).conversation.turns)  # a valid file, old or new
    if kind == "note":
        path = target / "notes.md"
        text = path.read_text()
        lines = text.splitlines()
        if text and not text.endswith("\n"):  # a note the kill cut short (between pages): never done
            lines.pop()
            registry = Registry(BUILTIN)
            request = registry.read('{"name": "save_note", "arguments": {"text": "after the crash"}}')
            registry.execute(request, ActionContext(Workspace(target / "ws"), path, lambda s: ""))
            assert path.read_text().splitlines()[-1].endswith("after the crash")  # on a line of its own
        assert all(line.startswith("- ") and line.endswith("y" * 5000) for line in lines)
        return len(lines)
    files = list((target / "ws").iterdir())
    assert all(f.read_text() == BIG for f in files if not f.name.endswith(".tmp"))  # whole, or not there
    return len([f for f in files if not f.name.endswith(".tmp")])


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_kill_9_while_writing_leaves_whole_files(tmp_path: Path, kind: str) -> None:
    written = 0
    for attempt in range(4):
        target = tmp_path / str(attempt)
        target.mkdir()
        code = f"from pathlib import Path\ntarget = Path({str(target)!r})\nBIG = 'x' * {len(BIG)}\n" + WRITERS[kind]
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        time.sleep(0.8 + 0.15 * attempt)  # past start-up, into the writing
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        written += check(kind, target)
    assert written > 0  # it really was killed mid-work, not before it began
