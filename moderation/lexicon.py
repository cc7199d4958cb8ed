"""English word forms for the claim detector and the normaliser: lemminflect's dictionary,
shipped as a table (`lexicon.json`, written by `python -m moderation.training.lexicon`).

lemminflect parses its CSV tables in a third of a second of Python on every start, and the claim
detector needs them for the first sentence it checks: read beside the model's loading they
slowed it (both want the interpreter), read beside the first prompt's evaluation they took a core
from llama.cpp. The table loads in a few hundredths of a second. Words it does not hold are
lemmatised by lemminflect's rules (`oov_lemma`), which need no tables.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

LEXICON_FILE = Path(__file__).resolve().parent / "lexicon.json"

_lock = threading.Lock()
_parts: dict[str, str] = {}
_verbs: dict[str, tuple[str, frozenset[str]]] = {}
_lemminflect: Any = None


def load() -> None:
    """Read the table and import lemminflect's rules now (the session does it at start, in the
    background); every lookup calls it first."""
    global _lemminflect
    with _lock:  # two threads must not read it at once
        if _lemminflect is None:
            table = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
            _parts.update(table["parts"])
            _verbs.update({word: (base, frozenset(kinds.split())) for word, (base, kinds) in table["verbs"].items()})
            import lemminflect  # its rules, for words the table does not hold

            _lemminflect = lemminflect


def parts(word: str) -> frozenset[str]:
    """The parts of speech the dictionary knows `word` as ("NOUN", "VERB", ...); none if unknown."""
    load()
    return frozenset(_parts.get(word.lower(), "").split())


def verb(word: str) -> tuple[str, frozenset[str]] | None:
    """A verb form's base form and which forms it is ("past", "ing", "base"), or None."""
    load()
    return _verbs.get(word.lower())


def oov_lemma(word: str) -> str:
    """The base form lemminflect's rules give a verb form its dictionary does not hold."""
    load()
    found: tuple[str, ...] = _lemminflect.getAllLemmasOOV(word, upos="VERB").get("VERB", (word,))
    return found[0]
