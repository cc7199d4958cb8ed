"""Undo common obfuscations before classifying: Unicode tricks, confusables, leetspeak, letters
spaced out or run together, separators inside words, letters starred out ("k*ll") or held
("killllll"), abusive shorthand ("kys"), and one-letter typos of known words.

`Normalizer(vocabulary, weight)(text)` returns the text as a classifier would most likely have
seen it written plainly. It never replaces a word the vocabulary already knows. `word_normalizer()`
repairs against the shipped word table (`words.json`).
"""

from __future__ import annotations

import itertools
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
# "k*ll": * is the mark that censors letters (_ joins words in code: "c_nt" is a count)
_MASKED = re.compile(r"(?<![a-z*])[a-z]+(?:\*+[a-z]+)+(?![a-z*])")
_RUN = re.compile(r"([a-z])\1{2,}")  # "killllll": no English word has a letter three times running
# Two-letter words that may stand between others run together ("youareanidiot"); longer ones must
# be in the vocabulary, and one of them four letters or more ("tit us" is no reading of "titus").
_SHORT_WORDS = frozenset("i a an am as at be by do go he if in is it me my no of on or so to up us we".split())
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
        self._by_length: dict[int, list[str]] = {}
        for w in self.vocabulary:
            self._by_length.setdefault(len(w), []).append(w)
        self._longest = max(self._by_length, default=0)

    def __call__(self, text: str) -> str:
        text = unicode_fold(text)
        text = _WORD.sub(lambda m: _deleet(m.group()), text)
        text = _MASKED.sub(lambda m: self._unmask(m.group()), text)
        text = _SEPARATORS.sub("", text)
        text = _SPACED.sub(lambda m: m.group().replace(" ", ""), text)
        # word by word: one pattern for "a word with a run in it" backtracks quadratically
        text = re.sub(r"[a-z]+", lambda m: self._unhold(m.group()) if _RUN.search(m.group()) else m.group(), text)
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
        if len(word) > self._longest + 1:  # one edit reaches no word of the vocabulary; and the
            return word  # edits of a 60,000-letter "word" would take minutes and gigabytes
        candidates = [w for w in _edits(word) if w in self.vocabulary and len(w) >= 4]
        return max(candidates, key=lambda w: (self.weight(w), w)) if candidates else word

    def _split(self, word: str) -> str | None:
        """'ihate' -> 'i hate', 'youareanidiot' -> 'you are an idiot': known words run together,
        in as few words as can be (of those, the one with the weightiest word)."""
        if len(word) > 40:
            return None
        best: list[tuple[int, float, list[str]] | None] = [None] * (len(word) + 1)
        best[0] = (0, 0.0, [])
        for end in range(1, len(word) + 1):
            for start in range(max(0, end - 20), end):
                piece, before = word[start:end], best[start]
                if before is None or not (piece in _SHORT_WORDS or (len(piece) >= 3 and self._known(piece))):
                    continue
                found = (before[0] + 1, max(before[1], self.weight(piece)), [*before[2], piece])
                now = best[end]
                if now is None or (found[0], -found[1]) < (now[0], -now[1]):
                    best[end] = found
        whole = best[-1]
        if whole is None or whole[0] < 2 or max(map(len, whole[2])) < 4:
            return None
        return " ".join(whole[2])

    def _known(self, word: str) -> bool:
        return word in self.vocabulary or english(word)  # "stupidest" is a word the vocabulary lacks

    def _unhold(self, word: str) -> str:
        """'killllll' -> 'kill', 'youuuu' -> 'you': each run of a letter read as two of it or one,
        the first reading that is a word; else two of each."""
        pieces = _RUN.split(word)  # text, letter, text, letter, ... text
        letters, rests = pieces[1::2], pieces[2::2]
        for lengths in itertools.product((2, 1), repeat=len(letters)) if len(letters) <= 4 else ():
            reading = pieces[0] + "".join(c * n + rest for c, n, rest in zip(letters, lengths, rests, strict=True))
            if self._known(reading):
                return reading
        return _RUN.sub(r"\1\1", word)

    def _unmask(self, word: str) -> str:
        """'k*ll' -> 'kill': each * a letter left out; the word the vocabulary holds of that
        shape, the weightiest. Where none fits ("f*u*c*k" has marks between letters, not for
        them), or the marks would be half the word ("a*b*c"), they are dropped as separators."""
        if len(word) < 4 or 2 * word.count("*") > len(word):
            return word
        shape = re.compile(word.replace("*", "."))
        fits = [w for w in self._by_length.get(len(word), ()) if shape.fullmatch(w)]
        return max(fits, key=lambda w: (self.weight(w), w)) if fits else word


def word_normalizer() -> Normalizer:
    """A normaliser that knows the offline word model's vocabulary and stop words, and repairs a
    typo into the candidate that model finds most offensive: the normaliser exists to recover
    obfuscated abuse, and it never touches a word it knows."""
    table = json.loads(WORDS_FILE.read_text(encoding="utf-8"))
    weights: dict[str, float] = table["weights"]
    return Normalizer([*weights, *table["stop_words"]], lambda w: weights.get(w, 0.0))
