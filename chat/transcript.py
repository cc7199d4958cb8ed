"""An append-only JSON Lines transcript: one event a line, each written whole and fsynced.

A crash loses at most the reply in flight and the file is never rewritten. A write that fails
(a full disk) leaves no torn line behind, and a line torn by an earlier crash is never glued to
the next event: that one starts on a new line.
"""

from __future__ import annotations

import errno
import os
from contextlib import suppress
from pathlib import Path
from typing import Any

from chat.errors import ParleyError
from chat.sanitize import clean, json_line


class TranscriptError(ParleyError):
    """The transcript cannot be opened or written (exit code 1)."""


class Transcript:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.failed = False  # a write failed: the error was reported once, later events are not written
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            size = os.fstat(self._fd).st_size
            self._new_line = size > 0 and os.pread(self._fd, 1, size - 1) != b"\n"
        except OSError as err:
            raise TranscriptError(f"cannot open transcript {clean(str(path))}: {err.strerror}") from None

    def write(self, event: dict[str, Any]) -> None:
        if self.failed:
            return
        data = ("\n" * self._new_line + json_line(event) + "\n").encode("utf-8")
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            if os.write(self._fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(self._fd)
        except OSError as err:
            self.failed = True
            with suppress(OSError):  # a device such as /dev/full cannot be truncated, and needs not
                os.ftruncate(self._fd, start)
            raise TranscriptError(f"cannot write transcript {clean(str(self.path))}: {err.strerror}") from None
        self._new_line = False

    def close(self) -> None:
        with suppress(OSError):
            os.close(self._fd)
