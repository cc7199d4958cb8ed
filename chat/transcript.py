"""An append-only JSON Lines transcript: one event per line, flushed and fsynced.

A crash loses at most the reply in flight; the file is never rewritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from chat.errors import ParleyError


class Transcript:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file: TextIO = path.open("a", encoding="utf-8")
        except OSError as err:
            raise ParleyError(f"cannot open transcript {path}: {err.strerror}") from None

    def write(self, event: dict[str, Any]) -> None:
        self._file.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
