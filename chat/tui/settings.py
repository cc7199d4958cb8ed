"""What the TUI remembers between runs: its choices (the theme), in the user config folder, and
what was typed in the input (Up recalls it), beside the chat history."""

from __future__ import annotations

import json
import os
from contextlib import suppress
from pathlib import Path

import platformdirs

from chat.config import APP_NAME
from chat.files import write_atomic


def settings_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "tui.json"


def load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}  # no settings yet, or unreadable: start from the defaults
    return (
        {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}
    )


def save(path: Path, settings: dict[str, str]) -> None:
    """Remember `settings`; a choice that cannot be saved is not worth stopping the chat for."""
    with suppress(OSError):
        write_atomic(path, json.dumps(settings, indent=2) + "\n")


INPUTS_KEPT = 500  # the latest inputs Up can recall after a restart


def load_inputs(path: Path) -> list[str]:
    """What was typed in earlier runs, oldest first; nothing when there is no readable file.
    A file grown to twice what is kept is cut back to the latest."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    inputs = []
    for line in lines[-INPUTS_KEPT:]:
        with suppress(ValueError, RecursionError):
            value = json.loads(line)
            if isinstance(value, str):
                inputs.append(value)
    if len(lines) > 2 * INPUTS_KEPT:
        with suppress(OSError):
            write_atomic(path, "".join(json.dumps(text) + "\n" for text in inputs))
    return inputs


def add_input(path: Path, text: str) -> None:
    """Append one input (a JSON string a line: inputs can hold line breaks), readable by the user
    alone like the history it sits beside; one that cannot be written is not worth stopping for."""
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as f:
            f.write(json.dumps(text) + "\n")
