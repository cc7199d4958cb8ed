"""Undo common obfuscations before classifying: Unicode tricks, confusables, leetspeak, letters
spaced out or joined, separators inside words, abusive shorthand ("kys"), and one-letter typos of
known words.

`Normalizer(vocabulary, weight)(text)` returns the text as a classifier would most likely have
seen it written plainly. It never replaces a word the vocabulary already knows. `word_normalizer()`
repairs against the shipped word table (`words.json`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

import decancer_py

from moderation import lexicon

LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "+": "t"}
)

_WORD = re.compile(r"[^\W_][\w@$!+*.\-]*[^\W_]|[^\W_]", re.UNICODE)
_SEPARATORS = re.compile(r"(?<=[a-z])[.\-_*]+(?=[a-z])")
_SPACED = re.compile(r"\b(?:[a-z] ){2,}[a-z]\b")  # "h a t e"
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad]")
WORDS_FILE = Path(__file__).resolve().parent / "words.json"  # written by moderation.training.words

# Chat shorthand that spells abuse out, written out so the encoder reads what it means: "kys" was
# let through. Only shorthand with no everyday meaning ("kms" is also kilometres).
SHORTHAND = {"kys": "kill yourself", "stfu": "shut the fuck up", "gtfo": "get the fuck out", "foad": "fuck off and die"}
_SHORTHAND = re.compile(r"\b(?:" + "|".join(SHORTHAND) + r")\b")


def unicode_fold(text: str) -> str:
    """Plain lower-case Latin letters for look-alikes: compatibility forms (full-width, math
    letters), accents, and confusables from other scripts ("ıdıot", "fսck", "ꜰuck"), using
    decancer's table of Unicode confusables."""
    text = unicodedata.normalize("NFKC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return str(decancer_py.parse(text)).casefold()


def _deleet(word: str) -> str:
    """Leetspeak only where it hides letters: "h4te" and "1d10t" yes; "2024", "word7" and
    "abc123" no (trailing digits are names and numbers, not disguise)."""
    core = word.rstrip("0123456789!+")
    if sum(c.isalpha() for c in core) >= 2 and any(c in "0134573@$!+" for c in core):
        return core.translate(LEET) + word[len(core) :]
    return word


def english(word: str) -> bool:
    """Whether lemminflect's dictionary of English word forms holds `word` (`moderation.lexicon`)."""
    return bool(lexicon.parts(word))


def _edits(word: str) -> set[str]:
    """The words one edit from `word`. A letter is taken out only where it doubles its neighbour
    ("fuuck"): disguises leave letters out, swap or replace them, and taking any letter out
    made names into swear words ("Titus")."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b and (a[-1:] == b[0] or b[1:2] == b[0])}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in letters}
    inserts = {a + c + b for a, b in splits for c in letters}
    return deletes | swaps | replaces | inserts


class Normalizer:
    """Repairs words against a vocabulary; `weight` ranks candidate repairs (higher wins)."""

    def __init__(self, vocabulary: Iterable[str], weight: Callable[[str], float] | None = None) -> None:
        self.vocabulary = {w for w in vocabulary if w.isalpha()}
        self.weight = weight or (lambda _: 0.0)

    def __call__(self, text: str) -> str:
        text = unicode_fold(text)
        text = _WORD.sub(lambda m: _deleet(m.group()), text)
        text = _SEPARATORS.sub("", text)
        text = _SPACED.sub(lambda m: m.group().replace(" ", ""), text)
        text = _SHORTHAND.sub(lambda m: SHORTHAND[m.group()], text)
        return re.sub(r"[a-z]{3,}", lambda m: self._repair(m.group()), text)

    def _repair(self, word: str) -> str:
        # An English word is no typo, even where the vocabulary lacks it: "slug", "damp" and
        # "chores" were one edit from swear words, and "therapist" splits into two words.
        if word in self.vocabulary or len(word) < 4 or english(word):
            return word
        split = self._split(word)
        if split:
            return split
        candidates = [w for w in _edits(word) if w in self.vocabulary and len(w) >= 4]
        return max(candidates, key=lambda w: (self.weight(w), w)) if candidates else word

    def _split(self, word: str) -> str | None:
        """'ihate' -> 'i hate': two known words run together."""
        best = None
        for i in range(1, len(word)):
            left, right = word[:i], word[i:]
            if (left in self.vocabulary or left in ("i", "a")) and right in self.vocabulary and len(right) >= 3:
                score = max(self.weight(left), self.weight(right))
                if best is None or score > best[0]:
                    best = (score, f"{left} {right}")
        return best[1] if best else None


def word_normalizer() -> Normalizer:
    """A normaliser that knows the offline word model's vocabulary and stop words, and repairs a
    typo into the candidate that model finds most offensive: the normaliser exists to recover
    obfuscated abuse, and it never touches a word it knows."""
    table = json.loads(WORDS_FILE.read_text(encoding="utf-8"))
    weights: dict[str, float] = table["weights"]
    return Normalizer([*weights, *table["stop_words"]], lambda w: weights.get(w, 0.0))
