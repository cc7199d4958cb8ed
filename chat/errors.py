"""Errors that Parley reports to the user as one clear line (never a traceback).

Each carries the process exit code documented in the README:
0 ok, 1 runtime failure, 2 usage or config error.
"""

import difflib
from collections.abc import Iterable


class ParleyError(Exception):
    """An error meant for the user; `str(err)` is the whole message."""

    exit_code = 1


class UsageError(ParleyError):
    exit_code = 2


class ConfigError(ParleyError):
    exit_code = 2


class ModelLoadError(ParleyError):
    """The model file exists but llama.cpp cannot use it (corrupt, not GGUF, ...)."""

    exit_code = 1


class ContextOverflowError(ParleyError):
    """The prompt plus the reserved reply does not fit the context window."""

    exit_code = 1


class CommandError(ParleyError):
    """A slash command was unknown or given a bad value; nothing was changed."""

    exit_code = 2


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the one of `options` that `name` begins (a shortened name,
    "temp"), else the closest, or '' when none is close."""
    options = list(options)
    longer = [option for option in options if len(name) >= 3 and option.startswith(name)]
    close = longer if len(longer) == 1 else difflib.get_close_matches(name, options, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


class Terminated(KeyboardInterrupt):
    """SIGTERM during a reply: it ends as Ctrl+C does (what came is kept), and the process with
    143 (128 + 15), as a terminated program's does."""
