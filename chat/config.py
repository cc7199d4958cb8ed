"""models.toml: where it is found, what it may contain, and errors that name the key.

Lookup order: --config PATH, then $PARLEY_CONFIG, then the user config dir, then the
models.toml shipped with Parley. Relative paths inside a file are relative to that file.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from actions.builtin import BUILTIN
from actions.config import ActionsConfig
from chat.errors import ConfigError, did_you_mean
from chat.sampling import Sampling
from moderation.config import ModerationConfig
from moderation.llm_verdicts import LlmFormat

APP_NAME = "parley"
ACTION_NAME = re.compile(r"[a-z][a-z0-9_]*")  # what a model writes as the name of an action it asks for
CONFIG_ENV = "PARLEY_CONFIG"

Strict = ConfigDict(extra="forbid", frozen=True)
# Keys that were renamed: the old name is refused with the new one as the hint.
RENAMED: dict[tuple[str, ...], str] = {("moderation", "actions"): "policy"}


def _resolve(value: Path | None, info: ValidationInfo) -> Path | None:
    """Expand ~ and make a relative path relative to the config file's folder."""
    if value is None:
        return None
    if "\x00" in str(value):
        raise ValueError("a path may not contain a NUL character")
    value = value.expanduser()
    base = (info.context or {}).get("base")
    return value if value.is_absolute() or base is None else Path(base) / value


class ModelConfig(BaseModel):
    """One model. Exactly one source: `path`, `package` + `resource`, `repo` + `file`, `url` (a
    server speaking the OpenAI-compatible API: see `chat.http_engine`), or `script` (replies
    given in advance: see `chat.scripted_engine`)."""

    model_config = Strict

    description: str = ""
    path: Path | None = Field(None, description="a local GGUF file")
    package: str | None = Field(None, description="a Python package that ships the GGUF")
    resource: str | None = Field(None, description="the GGUF's file name inside `package`")
    repo: str | None = Field(None, description="a Hugging Face repo id, e.g. 'org/name-GGUF'")
    file: str | None = Field(None, description="the GGUF's file name inside `repo`")
    revision: str | None = Field(None, description="branch, tag or commit of `repo`")
    script: Path | None = Field(None, description="a JSON Lines file of replies, for testing without a model")
    url: str | None = Field(None, description="an OpenAI-compatible server's API, e.g. 'http://host:8080/v1'")
    model: str | None = Field(None, description="the model's name at `url`; none = the first the server lists")
    api_key_env: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="the environment variable holding `url`'s API key"
    )
    connect_timeout_s: float = Field(10.0, gt=0, le=600, description="seconds to wait for `url` to accept")
    read_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="seconds to wait for `url`'s next byte (its first includes the prompt)"
    )
    n_ctx: int = Field(2048, ge=64, le=1_048_576, description="context window in tokens")
    n_gpu_layers: int = Field(0, ge=-1, description="layers offloaded to the GPU; 0 = CPU, -1 = all")
    n_threads: int | None = Field(
        None, ge=1, le=1024, description="CPU threads for decoding; none = every physical core but one"
    )
    chat_template: str | None = Field(
        None, description="a Jinja chat template file, or the name of a template in the GGUF; none = its default"
    )
    lora_path: Path | None = Field(None, description="a LoRA adapter (GGUF) applied at load")
    lora_scale: float = Field(1.0, ge=0.0, le=4.0, description="how strongly the LoRA adapter applies; 0 = not at all")
    prompt_cache: bool = Field(
        True, description="keep the evaluated start of the prompt on disk, so the next run's first reply skips it"
    )
    flash_attn: bool | None = Field(
        None,
        description="llama.cpp's flash attention; none = on when layers are offloaded to a GPU, off on the CPU "
        "(bench/flash_attn.py: there it is faster with a short conversation, slower with a long one)",
    )
    prompt: str = Field("default", description="the system-prompt preset used at start")
    sampling: Sampling = Sampling()  # frozen, so one shared default is safe

    _resolve_paths = field_validator("path", "lora_path", "script")(_resolve)

    @field_validator("url")
    @classmethod
    def _web_address(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018  (reading it checks its range)
        except ValueError:
            raise ValueError("the port must be a number from 1 to 65535") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
            raise ValueError("expected http://HOST:PORT/v1 or https://HOST/v1")
        return url

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        sources = [name for name in ("path", "package", "repo", "url", "script") if getattr(self, name) is not None]
        if len(sources) != 1:
            found = " and ".join(sources) if sources else "none"
            raise ValueError(f"a model needs exactly one source (path, package, repo, url or script); found {found}")
        if self.package is not None and self.resource is None:
            raise ValueError("`package` needs `resource`, the GGUF's file name inside the package")
        if self.repo is not None and self.file is None:
            raise ValueError("`repo` needs `file`, the GGUF's file name inside the repo")
        if self.resource is not None and self.package is None:
            raise ValueError("`resource` is only valid with `package`")
        if (self.file is not None or self.revision is not None) and self.repo is None:
            raise ValueError("`file` and `revision` are only valid with `repo`")
        remote = {"model", "api_key_env", "connect_timeout_s", "read_timeout_s"} & self.model_fields_set
        if remote and self.url is None:
            raise ValueError(f"`{sorted(remote)[0]}` is only valid with `url`")
        local = {"n_gpu_layers", "n_threads", "lora_path", "prompt_cache", "flash_attn"} & self.model_fields_set
        if local and self.url is not None:
            raise ValueError(f"`{sorted(local)[0]}` is set on the server, not in Parley, for a `url` model")
        return self

    @property
    def source(self) -> str:
        if self.path is not None:
            return f"path {self.path}"
        if self.package is not None:
            return f"package {self.package}/{self.resource}"
        if self.script is not None:
            return f"script {self.script}"
        if self.url is not None:
            return f"url {self.url}" + (f" ({self.model})" if self.model else "")
        return f"hf {self.repo}/{self.file}"


class ModerationModelConfig(ModelConfig):
    """`[moderation.llm]`: a moderation model (Llama Guard 3, Qwen3Guard-Gen, ShieldGemma) that
    judges each whole reply after the fast pass. Its sources and settings are a chat model's."""

    format: LlmFormat = Field(description="how the model is asked and answers")
    n_ctx: int = Field(4096, ge=64, le=1_048_576, description="context window in tokens: the user's message and "
                       "the whole reply must fit")  # fmt: skip


class ChatModerationConfig(ModerationConfig):
    """`[moderation]`, with the moderation model, which the chat layer loads and runs."""

    llm: ModerationModelConfig | None = None


class Config(BaseModel):
    model_config = Strict

    default: str = Field(description="name of the model used when --model is not given; none: the first listed")
    overflow: Literal["truncate", "compact", "error"] = Field(
        "truncate", description="when the context is full: drop the oldest turns, summarise them, or refuse"
    )
    prompts_dir: Path | None = Field(None, description="extra folder of system-prompt presets")
    history: bool = Field(True, description="save every conversation in the history database (parley history)")
    models: dict[str, ModelConfig] = Field(min_length=1)
    moderation: ChatModerationConfig = Field(default_factory=ChatModerationConfig)
    actions: ActionsConfig = Field(default_factory=ActionsConfig)

    _origin: Path | None = PrivateAttr(None)
    _resolve_paths = field_validator("prompts_dir")(_resolve)

    @model_validator(mode="before")
    @classmethod
    def _first_model_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and "default" not in data and isinstance(data.get("models"), dict) and data["models"]:
            return {**data, "default": next(iter(data["models"]))}
        return data

    @model_validator(mode="after")
    def _default_exists(self) -> Config:
        if self.default not in self.models:
            raise ValueError(
                f"default: '{self.default}' is not declared under [models]{did_you_mean(self.default, self.models)}"
            )
        return self

    @model_validator(mode="after")
    def _command_names(self) -> Config:
        """A command action is named as the model writes it, and never takes a built-in's name
        (it would quietly replace that action)."""
        builtin = {action.name for action in BUILTIN}
        for name in self.actions.commands:
            if name in builtin:
                raise ValueError(f"actions.commands.{name}: '{name}' is a built-in action's name: choose another")
            if not ACTION_NAME.fullmatch(name):
                raise ValueError(f"actions.commands: '{name}' is no action name (lowercase letters, digits and _)")
        return self

    @property
    def origin(self) -> Path | None:
        return self._origin

    def model(self, name: str | None) -> tuple[str, ModelConfig]:
        name = name or self.default
        if name not in self.models:
            known = ", ".join(self.models)
            raise ConfigError(f"unknown model '{name}'{did_you_mean(name, self.models)} (known: {known})")
        return name, self.models[name]


def shipped_config_path() -> Path:
    """The models.toml that ships with Parley (inside the package when installed as a wheel)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "models.toml", here.parent / "models.toml"):
        if candidate.is_file():
            return candidate
    return here.parent / "models.toml"


def user_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "models.toml"


def find_config(cli_path: str | None = None, env: dict[str, str] | None = None) -> Path:
    """Apply the lookup order. A path the user named explicitly must exist."""
    env = dict(os.environ) if env is None else env
    for explicit, what in ((cli_path, "--config"), (env.get(CONFIG_ENV), f"${CONFIG_ENV}")):
        if explicit:
            path = Path(explicit).expanduser()
            if path.is_dir():
                raise ConfigError(f"{path} (from {what}) is a folder: name the models.toml file in it")
            if not path.is_file():
                raise ConfigError(f"config file not found: {path} (from {what})")
            return path
    user = user_config_path()
    return user if user.is_file() else shipped_config_path()


def load_config(path: Path) -> Config:
    """Read and validate one models.toml; every problem becomes a ConfigError paragraph."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"invalid config {path}: not valid TOML: {err}") from None
    except RecursionError:
        raise ConfigError(f"invalid config {path}: nested too deep") from None
    try:
        config = Config.model_validate(data, context={"base": path.parent})
    except ValidationError as err:
        errors = err.errors()
        if any(e["type"] == "missing" and e["loc"] == ("models",) for e in errors):  # default follows from models
            errors = [e for e in errors if not (e["type"] == "missing" and e["loc"] == ("default",))]
        problems = "; ".join(_describe(e) for e in errors)
        end = "" if problems.endswith(("?", ".")) else "."
        raise ConfigError(f"invalid config {path}: {problems}{end}") from None
    config._origin = path
    return config


def _describe(error: Any) -> str:
    """One validation error as 'key path: what was expected (got X)'."""
    loc = tuple(str(part) for part in error["loc"])
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        renamed = RENAMED.get(loc)
        hint = f"; did you mean '{renamed}'? (renamed)" if renamed else _closest_key(loc)
        return f"unknown key '{'.'.join(loc)}'{hint}"
    if error["type"] == "missing":
        return f"missing key '{'.'.join(loc)}'"
    where = ".".join(loc)
    got = f" (got {error['input']!r})" if not isinstance(error.get("input"), dict) else ""
    return f"{where}: {msg[0].lower()}{msg[1:]}{got}" if where else msg


def _closest_key(loc: tuple[str, ...]) -> str:
    """'; did you mean ...?' for an unknown key: the closest key of its table, or of a table
    inside it ('temprature' under [models.x] is 'sampling.temperature')."""
    table = loc[:-1]
    keys = {key: key for key in _keys_at(table)}
    for sub in list(keys):
        keys.update({inner: f"{sub}.{inner}" for inner in _keys_at((*table, sub)) if inner not in keys})
    close = difflib.get_close_matches(loc[-1], list(keys), n=1)
    return f"; did you mean '{keys[close[0]]}'?" if close else ""


def _keys_at(loc: tuple[str, ...]) -> list[str]:
    """The valid keys of the table at `loc`, found by walking the pydantic models."""
    annotation: Any = Config
    for part in loc:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            if field is None:
                return []
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []
