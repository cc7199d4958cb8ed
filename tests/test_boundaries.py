"""Headless code stays light: no UI, no llama.cpp, no torch until they are needed."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = {"textual", "llama_cpp", "torch", "detoxify", "transformers"}


def imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_core_modules_import_nothing_heavy() -> None:
    loaded = imported_after("import chat.cli, chat.session, chat.runner, chat.commands, moderation, prompts")
    assert not loaded & HEAVY


def test_llama_cpp_is_imported_only_by_the_engine_modules() -> None:
    for path in (ROOT / "chat").rglob("*.py"):
        if path.name not in ("llama_engine.py", "sampler_stages.py", "chat_template.py"):  # the engine's modules
            source = path.read_text()
            assert "import llama_cpp" not in source and "from llama_cpp" not in source, path
