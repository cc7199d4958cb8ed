"""The TUI's remembered choices (the theme), in the user config folder."""

from __future__ import annotations

import json
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
