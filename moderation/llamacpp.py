"""How Parley runs llama.cpp's models (the chat model, the moderation's encoder): quietly, and
side by side. Importing this module sets it up for the process.

llama.cpp writes its log through a callback: Parley's keeps the last lines, to explain a load
that fails, and never prints them. llama-cpp-python, besides, points file descriptors 1 and 2 at
/dev/null (and sys.stdout and sys.stderr at a null file) while it loads a model, to hide that same
log. Two loads at once (the encoder's beside the chat model's) then restore each other's
/dev/null, and the process would print nothing ever after; so the loads had to wait for each
other (~40 ms of every start), and a TUI's frames drawn during a load went to /dev/null. With
the log in Parley's callback the redirection hides nothing, so it is turned off here (a test
checks that loading prints nothing).
"""

from __future__ import annotations

import ctypes
from types import TracebackType

import llama_cpp
import llama_cpp._internals
import llama_cpp.llama

_log: list[str] = []  # llama.cpp's last log lines


def _remember(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    _log.append(text.decode("utf-8", errors="replace"))
    del _log[:-50]


def logged_error(default: str) -> str:
    """The last error llama.cpp logged, as the reason a load failed."""
    failed = (line.strip() for line in reversed(_log) if "error" in line.lower() or "failed" in line.lower())
    return next(failed, default)


def forget_log() -> None:
    """Before a load: its failure is explained by its own lines, not an earlier load's."""
    _log.clear()


class _StreamsLeftAlone:
    """Stands in for llama-cpp-python's `suppress_stdout_stderr`."""

    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> _StreamsLeftAlone:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None


_CALLBACK = llama_cpp.llama_log_callback(_remember)  # referenced for as long as llama.cpp may call it
llama_cpp.llama_log_set(_CALLBACK, ctypes.c_void_p(0))
# The names llama-cpp-python's model loading (`_internals.LlamaModel`) and backend start
# (`llama.Llama`) look the context manager up by.
llama_cpp._internals.suppress_stdout_stderr = _StreamsLeftAlone  # type: ignore[attr-defined,assignment]
llama_cpp.llama.suppress_stdout_stderr = _StreamsLeftAlone  # type: ignore[attr-defined,assignment]
