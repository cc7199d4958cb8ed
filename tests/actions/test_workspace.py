"""The workspace boundary: relative paths only, no symlink or hard link leads out, nothing is
overwritten, and a folder swapped for a symlink while files are written sends none outside."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from actions.errors import ActionError
from actions.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "workspace"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root.mkdir()
    os.symlink(outside, root / "link")
    os.symlink(outside / "secret.txt", root / "filelink")
    os.symlink(outside / "new.txt", root / "dangling")
    return Workspace(root)


def outside(workspace: Workspace) -> Path:
    return workspace.root.parent / "outside"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "must be relative"),
        ("~/secrets", "must be relative"),
        ("../outside.txt", "may not contain '..'"),
        ("a/../../outside.txt", "may not contain '..'"),
        ("", "non-empty relative path"),
        ("a\x00b", "without NUL"),
        ("./.", "names no file"),
        ("link/escape.txt", "leaves the workspace"),
        ("filelink", "already exists"),  # a link is never written through
        ("dangling", "already exists"),
    ],
)
def test_new_files_stay_inside(workspace: Workspace, path: str, message: str) -> None:
    with pytest.raises(ActionError, match=message):
        workspace.create(path, "x")
    assert sorted(p.name for p in outside(workspace).iterdir()) == ["secret.txt"]
    assert (outside(workspace) / "secret.txt").read_text() == "secret"


@pytest.mark.parametrize(
    ("path", "message"),
    [("link/secret.txt", "leaves the workspace"), ("filelink", "leaves the workspace"), ("../outside/x", "'..'")],
)
def test_reads_stay_inside(workspace: Workspace, path: str, message: str) -> None:
    with pytest.raises(ActionError, match=message):
        workspace.read(path)


def test_a_hard_link_to_a_file_outside_is_neither_read_nor_overwritten(workspace: Workspace) -> None:
    os.link(outside(workspace) / "secret.txt", workspace.root / "hard.txt")
    with pytest.raises(ActionError, match="other hard links"):
        workspace.read("hard.txt")
    with pytest.raises(ActionError, match="already exists"):
        workspace.create("hard.txt", "overwritten")
    assert (outside(workspace) / "secret.txt").read_text() == "secret"


def test_create_writes_new_files_only_and_read_caps_the_length(workspace: Workspace) -> None:
    path = workspace.create("deep/er/notes.txt", "hello")
    assert path == workspace.root / "deep" / "er" / "notes.txt" and path.read_text() == "hello"
    with pytest.raises(ActionError, match="already exists"):
        workspace.create("deep/er/notes.txt", "again")
    assert path.read_text() == "hello"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # no temporary file left
    workspace.create("big.txt", "x" * 30_000)
    assert workspace.read("big.txt") == "x" * 20_000 + "\n[truncated]"


def test_a_folder_swapped_for_a_symlink_while_writing_sends_nothing_outside(workspace: Workspace) -> None:
    """The race of a check-then-open: a thread swaps workspace/sub between a real folder and a
    symlink to a folder outside while files are created in it, as fast as it can."""
    target = outside(workspace) / "target"
    target.mkdir()
    sub, real = workspace.root / "sub", workspace.root / "real"
    real.mkdir()
    stop = threading.Event()

    def to_link() -> None:
        os.symlink(target, sub)

    def to_folder() -> None:
        os.rename(real, sub)

    def swap() -> None:
        while not stop.is_set():
            for make in (to_link, to_folder):
                try:
                    make()
                except OSError:
                    pass
                try:
                    if sub.is_symlink():
                        sub.unlink()
                    elif real.exists():  # the writer made a new sub while it was missing
                        shutil.rmtree(sub)
                    elif sub.is_dir():
                        os.rename(sub, real)
                except OSError:
                    pass

    swapper = threading.Thread(target=swap, daemon=True)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # hand the GIL over often, so the two threads interleave on a busy machine
    swapper.start()
    written = refused = 0
    deadline = time.monotonic() + 20
    try:
        for i in range(100_000):
            if time.monotonic() > deadline or (written > 50 and refused > 50):
                break
            try:
                workspace.create(f"sub/f{i}.txt", "x")
                written += 1
            except ActionError:
                refused += 1
    finally:
        stop.set()
        swapper.join(5)
        sys.setswitchinterval(switch)
    assert list(target.iterdir()) == []  # not one file went outside
    assert refused > 0  # the swapper really raced the writer
