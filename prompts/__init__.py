"""System-prompt presets: TOML data files with `description` and `text`.

Built-in presets live beside this file; a user folder (and `prompts_dir` in models.toml) can
add more or override a built-in one by using the same name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

BUILTIN_DIR = Path(__file__).resolve().parent


class PresetError(Exception):
    pass


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    text: str
    origin: Path


def load_presets(extra_dirs: list[Path] | None = None) -> dict[str, Preset]:
    """All presets by name; later folders override earlier ones."""
    presets: dict[str, Preset] = {}
    for folder in [BUILTIN_DIR, *(extra_dirs or [])]:
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                presets[path.stem] = _read(path)
    return presets


def _read(path: Path) -> Preset:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise PresetError(f"invalid prompt preset {path}: {err}") from None
    except RecursionError:
        raise PresetError(f"invalid prompt preset {path}: nested too deep") from None
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise PresetError(f"invalid prompt preset {path}: needs a non-empty string `text`")
    unknown = set(data) - {"description", "text"}
    if unknown:
        raise PresetError(f"invalid prompt preset {path}: unknown key(s) {', '.join(sorted(unknown))}")
    return Preset(path.stem, str(data.get("description", "")), text.strip(), path)
