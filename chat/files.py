"""Writing a whole file so that a crash or a full disk never leaves it half-written."""

from __future__ import annotations

import os
import secrets
import traceback
from contextlib import suppress
from datetime import datetime
from pathlib import Path

from chat.errors import UsageError


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path`: a temporary file beside it, fsynced, renamed over it, and the
    folder fsynced, so `path` holds either the old content or the new, whole. OSError on failure
    (the temporary file is removed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        temporary.replace(path)
    except BaseException:
        with suppress(OSError):
            temporary.unlink()
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def crash_report(error: BaseException, folder: Path) -> Path | None:
    """Write the traceback of a fault of Parley's own (not the user's input, not the model's) to
    `folder`, readable by the user alone, for a bug report; its path, or None when it cannot be
    written. The screen gets one line instead of the traceback."""
    path = folder / f"crash-{datetime.now().strftime('%Y%m%d-%H%M%S')}.txt"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as f:
            f.write("".join(traceback.format_exception(error)))
    except OSError:
        return None
    return path


def fault_line(error: BaseException, report: Path | None) -> str:
    """What the user is told of a fault of Parley's own, in one line."""
    where = f"the details are in {report}" if report else "the details could not be written"
    return f"internal error ({type(error).__name__}: {error}); this is a bug in Parley: {where}"


SCRIPT_LIMIT = 16 * 1024 * 1024  # bytes: far beyond any script, short of a device that never ends


def read_capped(path: Path, limit: int = SCRIPT_LIMIT) -> str:
    """The UTF-8 text of `path`, read as a stream (a pipe or process substitution will do), but
    never more than `limit` bytes: ValueError beyond it ("/dev/zero" would never end).
    OSError or UnicodeDecodeError as reading and decoding raise them."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // (1024 * 1024)} MB")
    return data.decode("utf-8")


def check_target(path: Path, named_by: str = "") -> None:
    """A file the user names for Parley to write (/save, /export, --transcript; `named_by`
    prefixes the messages): UsageError when it is a folder, or when its folder does not exist (a
    mistyped folder is not made)."""
    if path.is_dir():
        raise UsageError(f"{named_by}{path} is a folder: name a file")
    if not path.parent.is_dir():
        raise UsageError(f"{named_by}{path}: no such folder {path.parent}")
