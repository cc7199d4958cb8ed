"""Write `moderation/lexicon.json`, the English word forms the claim detector and the normaliser
read (`python -m moderation.training.lexicon`; committed, rerun when lemminflect changes).

For every word of lemminflect's dictionary (its lemma table and overrides): the parts of speech
it is known as, and for a verb form its base form and which forms it is, exactly as lemminflect's
`getAllLemmas` and `getAllInflections` answer. lemminflect parses its CSV tables in a third of a
second of Python at every start, which slowed the model's loading beside it; the table loads in a
fraction of that. A test checks the table against the installed lemminflect.
"""

from __future__ import annotations

import json
from importlib.metadata import version

import lemminflect

from moderation.lexicon import LEXICON_FILE

_TAGS = (("past", ("VBD", "VBN")), ("ing", ("VBG",)), ("base", ("VB", "VBP")))


def dictionary_words() -> list[str]:
    lemmatizer = lemminflect.Lemmatizer()
    return sorted(set(lemmatizer._getLemmaDict()) | set(lemmatizer._getOverridesDict()))  # no public list


def verb_entry(word: str) -> list[str] | None:
    """[base form, "kinds"] of a verb form, as lemminflect's tables say; None if not a verb."""
    lemmas = lemminflect.getAllLemmas(word, upos="VERB").get("VERB")
    if not lemmas:
        return None
    lemma = lemmas[0]
    forms = lemminflect.getAllInflections(lemma, upos="VERB")
    kinds = {kind for kind, tags in _TAGS if any(word in forms.get(tag, ()) for tag in tags)}
    if word == lemma:
        kinds.add("base")
    return [lemma, " ".join(sorted(kinds))]


def table() -> dict[str, object]:
    words = dictionary_words()
    parts = {w: " ".join(sorted(found)) for w in words if (found := lemminflect.getAllLemmas(w))}
    verbs = {w: entry for w in words if (entry := verb_entry(w))}
    return {"source": f"lemminflect {version('lemminflect')} (MIT)", "parts": parts, "verbs": verbs}


if __name__ == "__main__":
    LEXICON_FILE.write_text(json.dumps(table(), separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {LEXICON_FILE}")
