"""The evaluated start of a prompt kept on disk between runs, as llama-cli's `--prompt-cache`.

Every conversation with a model begins with the same tokens (the system prompt, the actions'
description): a one-shot `parley ask` evaluated them again each time (~0.45 s of the embedded
model's first reply on 2 cores). The first run writes llama.cpp's state after those tokens
alone (never a user's message); later runs whose prompt starts the same way load it and
evaluate only the rest.

A file is only ever used by the same model file, window, llama.cpp build and adapter scale (its
name says which); it is written whole or not at all (a temporary file, then a rename), and one
that cannot be read is ignored and written again. The newest files are kept, at most KEEP of
them and BUDGET bytes together (a 7B model's file is tens of MB).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
from pathlib import Path

MAGIC = b"PARLEY-KV1\n"
KEEP = 8  # files kept in the folder, the most recently written
BUDGET = 512 * 2**20  # bytes the kept files may take together (the newest is always kept)
MIN_TOKENS = 32  # a shorter shared start is not worth a file


def identity(**settings: object) -> str:
    """What the cached state depends on, as a short digest (part of each file's name)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class PromptCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, owner: str, start: list[int]) -> Path:
        """The file of the state whose tokens begin with `start`, for the model `owner`."""
        digest = hashlib.sha256(struct.pack(f"<{len(start)}i", *start)).hexdigest()[:16]
        return self.folder / f"{owner}-{digest}.kv"

    def load(self, owner: str, start: list[int]) -> bytes | None:
        """The state saved after `start`, or None (none saved, or unreadable)."""
        try:
            with self.path(owner, start).open("rb") as f:
                if f.read(len(MAGIC)) != MAGIC:
                    return None
                (length,) = struct.unpack("<I", f.read(4))
                header = json.loads(f.read(length))
                tokens, size = list(header["tokens"]), int(header["size"])
                state = f.read(size + 1)
        except (OSError, ValueError, KeyError, TypeError, struct.error):
            return None
        if len(state) != size or tokens != start:
            return None
        return state

    def save(self, owner: str, start: list[int], state: bytes) -> None:
        """Write the state after `start`; an error leaves no file. Readable by the user alone:
        a system prompt can be private."""
        path = self.path(owner, start)
        header = json.dumps({"tokens": start, "size": len(state)}).encode()
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                f.write(MAGIC + struct.pack("<I", len(header)) + header)
                f.write(state)
            temporary.replace(path)
        except OSError:  # a full disk, a folder that cannot be made: no cache, no error
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            return
        self._prune()

    def _prune(self) -> None:
        with contextlib.suppress(OSError):  # another run pruned them first
            files = sorted(self.folder.glob("*.kv"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
            total = 0
            for number, path in enumerate(files):
                total += path.stat().st_size
                if number >= KEEP or (number and total > BUDGET):
                    path.unlink(missing_ok=True)
