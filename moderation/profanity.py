"""Profanity: swear words, found by a list once the normaliser has undone obfuscation ("f*ck",
"sh1t", "f u c k"). A swear word is a matter of words, so a list is the right tool; whether a
sentence abuses someone is the contextual heads' question, not this one's.

Words that are ordinary in another sense are left off the list ("cock" the rooster, "pussy
willow", "Moby Dick", "screw", "ass" the donkey, "hell"): the heads judge the abuse in them.
"""

from __future__ import annotations

import re

# Stems: a word counts when it starts with one ("fucking", "shitty", "bastards").
STEMS = (
    "fuck", "motherfuck", "shit", "bullshit", "cunt", "asshole", "arsehole", "bitch", "bastard", "dickhead",
    "dumbass", "jackass", "wank", "twat", "bollock", "goddamn", "damn", "crap", "piss", "slut", "whore",
)  # fmt: skip
# Whole words only: as stems they would catch ordinary words ("prickly", "cocktail").
WORDS = frozenset({"prick", "pricks", "tits", "douche", "douchebag", "arse", "dipshit"})
_WORD = re.compile(r"[a-z]+")


def score(text: str, normalized: str) -> float:
    """1.0 when `text`, as written or as the normaliser repaired it (`normalized`), holds a swear
    word, else 0.0."""
    for view in (text.casefold(), normalized):
        for word in _WORD.findall(view):
            if word in WORDS or word.startswith(STEMS):
                return 1.0
    return 0.0
