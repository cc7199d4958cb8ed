"""Reading a GGUF file's header: is it a GGUF file, and what do its metadata keys say. Parley
checks a model and a LoRA adapter with it before llama.cpp sees them, because llama.cpp can
crash the process on a file it cannot use instead of saying why."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from chat.errors import ConfigError, ModelLoadError
from chat.sanitize import clean

MAGIC = b"GGUF"
_STRING, _ARRAY = 8, 9
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # value type -> bytes
_MAX_STRING = 1 << 24  # a metadata string longer than this means the file is corrupt


class GGUFError(Exception):
    """Not a GGUF file, or its header is cut short or corrupt."""


def _read(f: BinaryIO, size: int) -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise GGUFError("the header is cut short")
    return data


def _number(f: BinaryIO, fmt: str) -> int:
    value: int = struct.unpack(fmt, _read(f, struct.calcsize(fmt)))[0]
    return value


def _string(f: BinaryIO) -> str:
    size = _number(f, "<Q")
    if size > _MAX_STRING:
        raise GGUFError("a metadata string is impossibly long")
    return _read(f, size).decode("utf-8", errors="replace")


def _skip(f: BinaryIO, kind: int) -> None:
    if kind == _STRING:
        _string(f)
    elif kind == _ARRAY:
        item, count = _number(f, "<I"), _number(f, "<Q")
        if item in _FIXED:
            f.seek(_FIXED[item] * count, 1)
        else:
            for _ in range(count):
                _skip(f, item)
    elif kind in _FIXED:
        _read(f, _FIXED[kind])
    else:
        raise GGUFError(f"unknown metadata value type {kind}")


def read_metadata(path: Path, keys: set[str]) -> dict[str, str]:
    """The string values of `keys` in the file's metadata (absent keys are left out)."""
    found: dict[str, str] = {}
    try:
        with path.open("rb") as f:
            if f.read(4) != MAGIC:
                raise GGUFError("not a GGUF file (bad magic bytes)")
            version = _number(f, "<I")
            if version not in (2, 3):
                raise GGUFError(f"unsupported GGUF version {version}")
            _number(f, "<Q")  # tensor count
            for _ in range(_number(f, "<Q")):
                key, kind = _string(f), _number(f, "<I")
                if key in keys and kind == _STRING:
                    found[key] = _string(f)
                    if len(found) == len(keys):
                        break
                else:
                    _skip(f, kind)
    except OSError as err:
        raise GGUFError(str(err.strerror)) from None
    return found


def check_model(path: Path) -> None:
    """Fail early, with a clear message, on files llama.cpp would reject obscurely."""
    if not path.is_file():
        raise ConfigError(f"model file not found: {clean(str(path))}")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"model file is empty (0 bytes): {clean(str(path))}")
    with path.open("rb") as f:
        if f.read(4) != MAGIC:
            raise ModelLoadError(f"not a GGUF model file (bad magic bytes): {clean(str(path))}")


def check_lora(adapter: Path, model: Path) -> None:
    """A LoRA adapter llama.cpp can apply to `model`, or a ConfigError saying why not."""
    where = f"lora_path {clean(str(adapter))}"
    if not adapter.is_file():
        raise ConfigError(f"{where}: no such file")
    try:
        meta = read_metadata(adapter, {"general.type", "adapter.type", "general.architecture"})
        architecture = read_metadata(model, {"general.architecture"}).get("general.architecture")
    except GGUFError as err:
        raise ConfigError(f"{where}: {err}") from None
    if meta.get("general.type") != "adapter" or meta.get("adapter.type") != "lora":
        kind = meta.get("adapter.type") or meta.get("general.type") or "unknown"
        raise ConfigError(f"{where}: not a LoRA adapter (its type is {clean(kind)!r})")
    if meta.get("general.architecture") != architecture:
        raise ConfigError(
            f"{where}: an adapter for {clean(meta.get('general.architecture', '?'))!r}, "
            f"but the model is {clean(architecture or '?')!r}"
        )
