"""The Detoxify backend. torch, transformers and detoxify are imported only here, and only when
this backend is used: start-up stays fast, and a machine without the weights still works."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from moderation.backends import BackendError
from moderation.config import DetoxifyConfig
from moderation.verdict import CATEGORIES, Category

# Detoxify's release files (detoxify.detoxify.MODEL_URLS; a test keeps the two in step) and the
# Hugging Face model each checkpoint's config and tokenizer come from.
RELEASES = "https://github.com/unitaryai/detoxify/releases/download/"
RELEASES_ENV = "DETOXIFY_RELEASES"  # a mirror of those releases (like HF_ENDPOINT for the Hub)
# The config and tokenizer files each Hugging Face model may have; those it lacks are skipped.
HF_FILES = (
    "config.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json",
    "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model",
)  # fmt: skip
CHECKPOINTS = {
    "original": "v0.1-alpha/toxic_original-c1212f89.ckpt",
    "unbiased": "v0.3-alpha/toxic_debiased-c7548aa0.ckpt",
    "multilingual": "v0.4-alpha/multilingual_debiased-0b549669.ckpt",
    "original-small": "v0.1.2/original-albert-0e1d6498.ckpt",
    "unbiased-small": "v0.1.2/unbiased-albert-c8519128.ckpt",
}
HF_MODELS = {
    "original": "bert-base-uncased",
    "unbiased": "roberta-base",
    "multilingual": "xlm-roberta-base",
    "original-small": "albert-base-v2",
    "unbiased-small": "albert-base-v2",
}


def hub_checkpoint(variant: str) -> Path:
    """Where torch hub keeps a downloaded checkpoint (honours $TORCH_HOME)."""
    torch_home = Path(os.environ.get("TORCH_HOME", Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "torch"))
    return torch_home.expanduser() / "hub" / "checkpoints" / Path(CHECKPOINTS[variant]).name


def checkpoint_path(config: DetoxifyConfig) -> Path:
    return config.checkpoint if config.checkpoint is not None else hub_checkpoint(config.variant)


def weights_available(config: DetoxifyConfig) -> bool:
    return checkpoint_path(config).is_file()


@contextmanager
def _offline() -> Iterator[None]:
    """No network at start-up: transformers must find everything in its cache or config_dir."""
    import huggingface_hub.constants as hub_constants  # read at import: patch the value too

    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    saved_constant = hub_constants.HF_HUB_OFFLINE
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE = saved_constant
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class DetoxifyBackend:
    name = "detoxify"

    def __init__(self, config: DetoxifyConfig) -> None:
        path = checkpoint_path(config)
        if not path.is_file():
            raise BackendError(
                f"Detoxify weights for '{config.variant}' are not on this machine ({path}); "
                f"run: parley moderation download {config.variant}"
            )
        with _offline():
            from detoxify import Detoxify

            try:
                self.model = Detoxify(
                    model_type=config.variant,
                    checkpoint=str(path),
                    device=config.device,
                    huggingface_config_path=str(config.config_dir) if config.config_dir else None,
                )
            except Exception as err:
                raise BackendError(f"cannot load Detoxify from {path}: {err}") from None
        self.name = f"detoxify ({config.variant})"

    def score(self, texts: Sequence[str]) -> list[dict[Category, float]]:
        """Scores per text, in Parley's categories (identity subgroup columns are dropped)."""
        if not texts:
            return []
        results = self.model.predict(list(texts))
        rows: list[dict[Category, float]] = [{} for _ in texts]
        for label, values in results.items():
            category = next((c for c in CATEGORIES if c == label), None)
            if category is not None:
                for row, value in zip(rows, values if isinstance(values, list) else [values], strict=True):
                    row[category] = float(value)
        return rows


def download(variant: str) -> list[Path]:
    """Fetch a variant's checkpoint into torch hub's cache and its config and tokenizer into the
    Hugging Face cache, with progress bars. The only place Parley downloads moderation weights."""
    import torch
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    target = hub_checkpoint(variant)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file():
        releases = os.environ.get(RELEASES_ENV, RELEASES)
        torch.hub.download_url_to_file(releases + CHECKPOINTS[variant], str(target), progress=True)
    fetched = [target]
    for name in HF_FILES:
        try:
            fetched.append(Path(hf_hub_download(HF_MODELS[variant], name)))
        except EntryNotFoundError:
            continue  # this model has no such file
    return fetched
