"""An append-only JSON Lines transcript: one event a line, each written whole and fsynced.

A crash loses at most the reply in flight and the file is never rewritten. A write that fails
(a full disk) leaves no torn line behind, and a line torn by an earlier crash is never glued to
the next event: that one starts on a new line.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress
from pathlib import Path
from typing import Any

from chat.errors import ParleyError, UsageError
from chat.files import check_target
from chat.sanitize import clean, json_line


class TranscriptError(ParleyError):
    """The transcript cannot be opened or written (exit code 1)."""


def check_named(path: Path) -> None:
    """A transcript the user names (--transcript): UsageError when its folder does not exist (a
    mistyped folder is not made), when it is a folder, or when it is a file that is not a
    transcript (events would be appended to the user's own text). A pipe or a device will do."""
    check_target(path, "--transcript ")
    if path.is_file() and path.stat().st_size:
        with suppress(OSError), path.open("rb") as f:
            first = f.readline(4096)
            if not first.startswith(b'{"type": '):
                shown = clean(str(path))
                raise UsageError(f"--transcript {shown} is not a transcript: name a new file, or one Parley wrote")


class Transcript:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.failed = False  # a write failed: the error was reported once, later events are not written
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Non-blocking only to open: a FIFO nobody reads is an error, not a hang.
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
            os.set_blocking(self._fd, True)
            # A pipe or a device (a FIFO, /dev/stderr) has no last line to look at, cut back or fsync.
            self._file = stat.S_ISREG(os.fstat(self._fd).st_mode)
            self._new_line = self._file and _ends_torn(path)
        except OSError as err:
            why = "it is a pipe that nothing reads" if err.errno == errno.ENXIO else err.strerror
            raise TranscriptError(f"cannot open transcript {clean(str(path))}: {why}") from None

    def write(self, event: dict[str, Any]) -> None:
        if self.failed:
            return
        data = ("\n" * self._new_line + json_line(event) + "\n").encode("utf-8")
        start = None
        try:
            if self._file:
                start = os.lseek(self._fd, 0, os.SEEK_END)
            if os.write(self._fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            if self._file:
                os.fsync(self._fd)
        except OSError as err:
            self.failed = True
            if start is not None:
                with suppress(OSError):
                    os.ftruncate(self._fd, start)
            raise TranscriptError(f"cannot write transcript {clean(str(self.path))}: {err.strerror}") from None
        self._new_line = False

    def close(self) -> None:
        with suppress(OSError):
            os.close(self._fd)


def _ends_torn(path: Path) -> bool:
    """Whether the file's last line was cut short (by a crash mid-write, long ago)."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"
