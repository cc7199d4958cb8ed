"""LoRA adapters for real: an adapter GGUF for the embedded model is built here with the `gguf`
package (llama.cpp's naming: `<tensor>.lora_a` / `.lora_b`, `adapter.lora.alpha`), loaded through
models.toml, and checked to change the logits, with scale 0 giving the model's own back; /lora
shows it and rescales it live; an adapter for other shapes is a one-line error, never a crash."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest

from chat.commands import execute
from chat.config import ModelConfig
from chat.engine import Message
from chat.errors import ModelLoadError
from chat.llama_engine import LlamaEngine
from chat.sampling import Sampling
from tests.conftest import EMBEDDED_GGUF

pytestmark = pytest.mark.integration

MESSAGES: list[Message] = [
    {"role": "user", "content": "Name three colours."},
    {"role": "assistant", "content": ""},
]


def write_adapter(path: Path, rank: int = 8, layers: range = range(0, 30, 3), wrong_shape: bool = False) -> Path:
    """A LoRA adapter for the embedded model: random low-rank updates of some layers' query and
    output projections, large enough to move the logits."""
    model = gguf.GGUFReader(EMBEDDED_GGUF)
    shapes = {t.name: [int(n) for n in t.shape] for t in model.tensors}  # GGUF order: ne0 (inputs) first
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    rng = np.random.default_rng(0)
    for layer in layers:
        for name in (f"blk.{layer}.attn_q.weight", f"blk.{layer}.attn_output.weight"):
            inputs, outputs = shapes[name]
            inputs += 64 if wrong_shape else 0
            writer.add_tensor(f"{name}.lora_a", rng.normal(0, 0.5, (rank, inputs)).astype(np.float32))
            writer.add_tensor(f"{name}.lora_b", rng.normal(0, 0.5, (outputs, rank)).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_adapter(tmp_path_factory.mktemp("lora") / "adapter.gguf")


def engine(lora: Path | None = None, scale: float = 1.0) -> LlamaEngine:
    return LlamaEngine("smollm2", EMBEDDED_GGUF, ModelConfig(path=EMBEDDED_GGUF, lora_path=lora, lora_scale=scale))


def raw(found_engine: LlamaEngine) -> dict[int, float]:
    found = found_engine.next_token(MESSAGES, [], Sampling(), 10)
    return {c.token: c.p for c in found.stages[0].top}


@pytest.fixture(scope="module")
def base() -> Iterator[dict[int, float]]:
    plain = engine()
    yield raw(plain)
    plain.close()


def test_the_adapter_changes_the_logits_and_scale_zero_restores_them(adapter: Path, base: dict[int, float]) -> None:
    adapted = engine(adapter)
    try:
        assert adapted.info.lora == str(adapter) and adapted.info.lora_scale == 1.0
        assert raw(adapted) != pytest.approx(base, abs=1e-3)
        adapted.set_lora_scale(0.0)  # live, as /lora 0 does
        assert raw(adapted) == pytest.approx(base, abs=1e-5)
    finally:
        adapted.close()
    off = engine(adapter, scale=0.0)
    try:
        assert raw(off) == pytest.approx(base, abs=1e-5)
    finally:
        off.close()


def test_lora_command_shows_and_rescales_the_adapter(adapter: Path, tmp_path: Path) -> None:
    from chat.config import load_config
    from chat.models import load_engine
    from chat.session import Session
    from tests.conftest import write_config

    text = (
        f'default = "smollm2"\n[models.smollm2]\npath = "{EMBEDDED_GGUF}"\nlora_path = "{adapter}"\nlora_scale = 0.5\n'
    )
    session = Session(load_config(write_config(tmp_path, text)), load_engine)
    try:
        assert (
            execute(session, "/lora").text == f"LoRA adapter {adapter}, applied at scale 0.5 (/lora SCALE changes it)"
        )
        assert execute(session, "/lora 0").text == "LoRA adapter adapter.gguf now applied at scale 0"
        assert session.engine.info.lora_scale == 0.0
    finally:
        session.close()


def test_an_adapter_of_other_shapes_is_a_clear_error(tmp_path: Path) -> None:
    wrong = write_adapter(tmp_path / "wrong.gguf", layers=range(1), wrong_shape=True)
    with pytest.raises(ModelLoadError, match=r"cannot load lora_path .*wrong\.gguf: .*incorrect shape"):
        engine(wrong)
