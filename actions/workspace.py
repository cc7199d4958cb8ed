"""The workspace: the one folder file actions may touch, and how they touch it safely.

Paths are relative, without `..`. Every folder on the way is opened relative to the one before
it with O_NOFOLLOW, so a symlink (or a folder swapped for one while we work) is refused rather
than followed; there is no check-then-open. A new file is written under a temporary name,
fsynced, then linked into place, which fails if the name exists: nothing is ever overwritten,
and nobody sees a half-written file. A file with more than one link (a hard link to something
outside) is never read.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from actions.errors import ActionError

MAX_READ = 20_000  # characters of a file handed to the model


def parts_of(relative: str) -> list[str]:
    """The names along a relative path inside the workspace; ActionError for anything else."""
    if not relative or "\x00" in relative:
        raise ActionError("path must be a non-empty relative path without NUL characters")
    if relative.startswith(("/", "~")) or PurePosixPath(relative).is_absolute():
        raise ActionError(f"path must be relative to the workspace: {relative}")
    parts = [p for p in PurePosixPath(relative).parts if p != "."]
    if ".." in parts:
        raise ActionError(f"path may not contain '..': {relative}")
    if not parts:
        raise ActionError(f"path names no file: {relative}")
    return parts


def _refused(relative: str, err: OSError) -> ActionError:
    if err.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return ActionError(f"path leaves the workspace (a symbolic link on the way): {relative}")
    return ActionError(f"{relative}: {err.strerror}")


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root

    @contextmanager
    def _folder(self, parts: list[str], relative: str, create: bool) -> Iterator[int]:
        """A descriptor of the folder holding the last of `parts`, reached without following links."""
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as err:
            raise ActionError(f"cannot open the workspace {self.root}: {err.strerror}") from None
        try:
            for name in parts[:-1]:
                if create:
                    try:
                        os.mkdir(name, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                child = os.open(name, flags, dir_fd=fd)
                os.close(fd)
                fd = child
            yield fd
        except OSError as err:
            raise _refused(relative, err) from None
        finally:
            os.close(fd)

    def create(self, relative: str, text: str) -> Path:
        """Write a new file; ActionError if it exists or the path leaves the workspace."""
        parts = parts_of(relative)
        name = parts[-1]
        with self._folder(parts, relative, create=True) as folder:
            temporary = f".{name}.{secrets.token_hex(6)}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                         dir_fd=folder)  # fmt: skip
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                os.link(temporary, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
            except FileExistsError:
                raise ActionError(f"{relative} already exists; nothing is overwritten") from None
            except OSError as err:
                raise _refused(relative, err) from None
            finally:
                os.unlink(temporary, dir_fd=folder)
            os.fsync(folder)
        return self.root / Path(*parts)

    def resolve(self, relative: str) -> Path:
        """The absolute path of `relative` for a program to use, if it stays inside the workspace
        now (a program opens it later, so this is a check, not a guarantee: see SECURITY.md)."""
        parts = parts_of(relative)
        root = self.root.resolve()
        target = (root / Path(*parts)).resolve()  # follows symlinks, so a link out shows here
        if not target.is_relative_to(root):
            raise ActionError(f"path leaves the workspace: {relative}")
        if target.is_file() and target.stat().st_nlink > 1:
            raise ActionError(f"{relative} has other hard links (it may be a file outside); not used")
        return target

    def read(self, relative: str) -> str:
        """A text file's content (at most MAX_READ characters); never through a link."""
        parts = parts_of(relative)
        with self._folder(parts, relative, create=False) as folder:
            try:  # non-blocking: opening a FIFO must not wait for a writer
                fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=folder)
            except FileNotFoundError:
                raise ActionError(f"no such file in the workspace: {relative}") from None
            with os.fdopen(fd, "rb") as f:
                info = os.fstat(f.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise ActionError(f"not a regular file: {relative}")
                if info.st_nlink > 1:
                    raise ActionError(f"{relative} has other hard links (it may be a file outside); not read")
                data = f.read(MAX_READ * 4 + 4)
        text = data.decode("utf-8", errors="replace")
        return text[:MAX_READ] + ("\n[truncated]" if len(text) > MAX_READ else "")
