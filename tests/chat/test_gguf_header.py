"""GGUF headers read before llama.cpp sees a file: a LoRA adapter it cannot use is a config
error, never a crash."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from chat.errors import ConfigError
from chat.gguf_header import GGUFError, check_lora, read_metadata

Metadata = dict[str, str | int | list[str]]


def gguf(path: Path, metadata: Metadata, cut: int = 0) -> Path:
    """A GGUF v3 file with these metadata values and no tensors (cut: bytes dropped at the end)."""

    def string(text: str) -> bytes:
        data = text.encode()
        return struct.pack("<Q", len(data)) + data

    body = b""
    for key, value in metadata.items():
        body += string(key)
        if isinstance(value, str):
            body += struct.pack("<I", 8) + string(value)
        elif isinstance(value, int):
            body += struct.pack("<I", 4) + struct.pack("<I", value)
        else:
            body += struct.pack("<IIQ", 9, 8, len(value)) + b"".join(string(v) for v in value)
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, len(metadata)) + body
    path.write_bytes(data[: len(data) - cut] if cut else data)
    return path


MODEL: Metadata = {"general.architecture": "llama", "llama.context_length": 2048, "tokenizer.ggml.tokens": ["a", "b"]}
LORA: Metadata = {"general.type": "adapter", "adapter.type": "lora", "general.architecture": "llama"}


def test_metadata_is_read_past_values_of_every_kind(tmp_path: Path) -> None:
    path = gguf(tmp_path / "m.gguf", {**MODEL, "general.name": "tiny"})
    assert read_metadata(path, {"general.name", "general.architecture"}) == {
        "general.name": "tiny", "general.architecture": "llama"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "not a GGUF file"), (b"GGML" + b"\0" * 40, "not a GGUF file"), (b"GGUF\x09\0\0\0", "version 9")],
)
def test_garbage_is_a_gguf_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(content)
    with pytest.raises(GGUFError, match=message):
        read_metadata(path, {"general.type"})


def test_a_cut_header_is_a_gguf_error(tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match="cut short"):
        read_metadata(gguf(tmp_path / "x.gguf", MODEL, cut=3), {"never.there"})


def test_a_lora_adapter_for_the_model_passes(tmp_path: Path) -> None:
    check_lora(gguf(tmp_path / "a.gguf", LORA), gguf(tmp_path / "m.gguf", MODEL))


@pytest.mark.parametrize(
    ("adapter", "message"),
    [
        (None, "no such file"),
        (b"garbage bytes that are not a model", "not a GGUF file"),
        ({**MODEL}, "not a LoRA adapter (its type is 'unknown')"),
        ({**LORA, "adapter.type": "control_vector"}, "not a LoRA adapter (its type is 'control_vector')"),
        ({**LORA, "general.architecture": "qwen2"}, "an adapter for 'qwen2', but the model is 'llama'"),
    ],
)
def test_an_adapter_llama_cpp_cannot_use_is_a_config_error(
    tmp_path: Path, adapter: bytes | Metadata | None, message: str
) -> None:
    path = tmp_path / "a.gguf"
    if isinstance(adapter, bytes):
        path.write_bytes(adapter)
    elif adapter is not None:
        gguf(path, adapter)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_lora(path, gguf(tmp_path / "m.gguf", MODEL))
