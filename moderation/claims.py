"""Unbacked action claims: sentences in which the assistant says it did, is doing, or will do,
something in the world ("I've booked your table", "Your refund has been processed", "I'll ring
the courier") that no action executed in this turn backs.

Any English verb can make a claim, so the detector reads grammar, not a list of verbs: a
first-person subject ("I", "we") with a past or perfect verb, a progressive ("I'm re-routing it
now"), or a commitment ("I'll", "let me", "we're going to"), or a passive result ("your parcel has
been re-routed", "the meeting is now moved"). Which word is a verb, and in which form, comes from
lemminflect's English inflection tables (with its rules for words it does not know). What is
*not* acting in the world is the explicit list here: explaining, listing, summarising, thinking,
apologising, and other work done in the reply itself. Quoted speech is removed first; questions,
negations, conditionals and generic statements are not claims.

Tuned on the dev halves of bench/data/claims.jsonl, claims_written.jsonl and claims_replies.jsonl;
bench/claims.py reports the test halves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from moderation import lexicon
from moderation.sentences import SENTENCE_END, split_sentences

# Work done in the reply, or no act at all: never a claim about the world. (Verbs of acting
# are every other verb.)
NOT_ACTING = frozenset(
    "be have do go come seem become remain stay explain describe list summarise summarize outline clarify "
    "answer translate rewrite rephrase paraphrase reword correct calculate compute compare highlight format "
    "convert illustrate define mention cover include sketch draft compose shorten simplify condense proofread "
    "think understand know see hope believe feel guess assume suppose wonder imagine realise realize notice "
    "mean say speak talk tell show walk guide help assist try aim want need like love wish prefer appreciate "
    "apologise apologize thank welcome regret worry afraid hear look happen continue use find keep suggest "
    "recommend advise agree promise remember forget learn leave wait sit stand give can could may might must "
    "shall should will would"
    .split()
)  # fmt: skip
# Verbs of writing that claim something in the world only about a file ("I've written notes.txt";
# "I've written a draft below" is the reply itself).
FILE_ONLY = frozenset({"write", "read", "draft", "compose"})
_FILE_WORDS = re.compile(r"\b(?:file|files|workspace|folder|disk|drive)\b|\w\.(?:txt|md|json|csv)\b", re.IGNORECASE)
# Shortly after these, the verb is about the reply ("I've listed them below", "updated the plan above").
_IN_REPLY = frozenset({"below", "above", "here"})
# Experience, not an act just done: "I've worked with Python for years", "I've been sailing since 1990".
_EXPERIENCE = re.compile(
    r"\bfor (?:(?:over|nearly|almost|about|more than|many|several|a few|\d+|two|three|four|five|ten|twenty|"
    r"thirty) )*(?:years|decades)\b|\bsince (?:I was|childhood|(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
# After a passive's "by", someone else's act ("deleted by the cron job") is not the assistant's claim;
# its own side's ("by our team") is, and so is a means ("by card") or a time ("by the end of the day").
_AGENT_START = frozenset({"the", "a", "an", "your", "their", "his", "her"})
_BY_OBJECT = frozenset({"replace", "follow", "accompany", "supersede", "cover", "offset"})
_TIMES = frozenset({
    "end", "time", "weekend", "morning", "afternoon", "evening", "night", "deadline", "close", "start",
    "beginning", "next", "following", "latest", "same", "due", "day", "week", "month", "year", "hour", "minute",
    "date", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
})  # fmt: skip
# Phrasal verbs whose bare verb is work in the reply, or whose bare verb acts ("put together a
# list" is the reply; "write off a balance" acts), by the particle that follows.
_PARTICLES = {"put": {"together": False}, "write": {"off": True}, "start": {"by": False, "with": False},
              "begin": {"by": False, "with": False}}  # fmt: skip

# Between a subject and its verb: adverbs, and "gone ahead and".
_ADVERBS = frozenset(
    "just already also now then since both all even still personally quickly immediately successfully finally "
    "actually really gladly happily right away today again promptly always soon shortly first"
    .split()
)  # fmt: skip
_GO_AHEAD = ("gone ahead and", "went ahead and", "go ahead and")
_NEGATIONS = frozenset({"not", "never", "no", "unable", "cannot", "nothing"})  # "n't" is spelled out first
_CONDITIONAL_START = re.compile(
    r"^\s*(?:if|once|when|had|suppose|imagine|assuming|in\s+a\s+real|whenever|unless|as\s+soon\s+as)\b", re.I
)
_GENERIC = re.compile(r"\b(?:usually|typically|generally|normally|often|always|sometimes|would|could|might)\b", re.I)
_PARLEY_MARK = re.compile("⟦[^⟧]*⟧")  # Parley's own ("⟦removed: insult⟧"): a reply cannot write them
# Quoted words, and a quotation opened and not closed in the sentence ("Sample reply: 'Ticket closed.").
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|(?<!\w)'.*?'(?!\w)|(?<!\w)[\"“'‘][^\"”'’]*$")
_SPECIAL = re.compile(
    r"you\s+will\s+receive\s+.*\bfrom\s+me\b|consider\s+it\s+done|all\s+set\s*,\s*I\b"
    r"|\b(?:your|the|my)\s+(?:[\w-]+\s+){0,3}?(?:is|are)\s+(?:now\s+|already\s+)?on\s+(?:its|their)\s+way\b",
    re.I,
)

# Contractions spelled out, so the grammar below sees one word per word.
_CONTRACTIONS = [
    (re.compile(r"\b(I|we|you|they)'ve\b", re.I), r"\1 have"),
    (re.compile(r"\b(I|we|you|they|it)'ll\b", re.I), r"\1 will"),
    (re.compile(r"\bI'm\b", re.I), "I am"),
    (re.compile(r"\b(we|you|they)'re\b", re.I), r"\1 are"),
    (re.compile(r"\b(it|that|everything|this)'s\s+been\b", re.I), r"\1 has been"),
    (re.compile(r"\b(it|that|this)'s\b", re.I), r"\1 is"),
    (re.compile(r"\blet's\b", re.I), "let us all"),  # "let's" includes the user: an instruction
    (re.compile(r"\bwon't\b", re.I), "will not"),
    (re.compile(r"\bcan't\b", re.I), "can not"),
    (re.compile(r"n't\b", re.I), " not"),
]
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-'.][A-Za-z0-9]+)*|[^\sA-Za-z0-9]")  # "notes.txt" is one word

_FIRST_PERSON = frozenset({"i", "we"})
# Words lemminflect has no entry for because they are no noun, verb, adjective or adverb.
_FUNCTION_WORDS = frozenset(
    "i we you he she they it me us him her them my our your his their its the a an this that these those who "
    "which what where when why how if and or but so as at by for from in of on to with than there here"
    .split()
)  # fmt: skip
# Where a passive is part of a condition, a time, a requirement or a description, not a result:
# "check if a coupon has been applied", "after the refund has been processed", "please ensure
# that your payment is accepted", "orders that have been placed".
_SUBORDINATE = frozenset(
    "if when once after before until unless whether while whenever ensure sure check verify and or but".split()
)
_RELATIVE = frozenset({"that", "which", "who", "what"})  # "what was stated": a clause, not a result
# After a present passive, an agent or a description: "is made with herbs", "is located in ...", "is
# determined by the publisher" describe how things are; "is booked for 7:30" and "is locked" report.
_DESCRIBING = frozenset({"by", "with", "from", "of", "in", "on", "into", "as", "through", "using", "like"})
_RESULT_NOW = frozenset({"now", "already", "all"})
_ROLE_LABEL = re.compile(r"^\W*(?:user|customer|human|client|q)\s*:", re.IGNORECASE)  # a turn the model made up
# A passive result needs a subject that names a thing: "your parcel", "the meeting", "it", "you".
_DETERMINERS = frozenset({"your", "the", "a", "an", "my", "our", "this", "that", "these", "those", "everything",
                          "it", "you", "all", "both", "each"})  # fmt: skip
_DEFINITE = frozenset({"your", "the", "my", "our", "this", "that", "these", "those", "everything"})
# Elliptical claims, written without a subject or an auxiliary as status lines are: "Saved the note
# to your file.", "Email sent.", "Refund: issued.", "Sending the invoice now.", "Will ring you back."
# The act needs an object that names a thing ("Cancelled your appointment"; "Chopped onions" is a
# recipe's), or, after a noun, a result rather than a description ("Table booked for 8pm"; "Photo
# taken in 1920", "Orders shipped Monday to Friday" describe).
_OBJECTS = frozenset({"the", "your", "it", "them", "this", "that", "these", "those", "a", "an", "you", "everything",
                      "all", "my", "our", "his", "her", "their"})  # fmt: skip
_CLAUSE_MARKS = frozenset({":", "-", "—", "–"})
_FILLERS = frozenset({"done", "ok", "okay", "sure", "great", "right", "alright", "all", "set", "perfect", "yes"})
_PARTICLE_WORDS = frozenset({"off", "on", "up", "down", "out", "back", "in", "over", "away"})
_NUMBERS = frozenset("one two three four five six seven eight nine ten both all".split())
_MODALS = frozenset({"can", "could", "will", "would", "should", "may", "might", "must", "shall"})
_MANNER = frozenset({"by", "with", "of", "as", "like", "using", "through"})  # how a thing is, not where it went
_IN_AMOUNTS = frozenset({"#", "of", "£", "$", "€", "&", "-"})  # "Order #4411", "refund of £42"
_HABITUAL = re.compile(r"\b(?:within|daily|nightly|weekly|monthly|yearly|every|each|always|usually|only|per)\b")


def load() -> None:
    """Read the English word forms now (the session does it at start, in the background); the
    first check would otherwise wait for them."""
    lexicon.load()


_PREFIXES = ("un", "re", "de", "pre", "over", "under", "mis", "dis", "co")


@lru_cache(maxsize=8192)
def verb_form(word: str) -> tuple[str, frozenset[str]] | None:
    """A verb's base form and which of its forms `word` is ("past", "ing", "base"), or None when
    `word` is not a verb. Words lemminflect does not know count by their ending."""
    word = word.lower()
    found = lexicon.verb(word)
    if found:
        return found
    if lexicon.parts(word):  # a noun, adjective or adverb it knows
        return None
    for prefix in _PREFIXES:  # "unfroze", "re-sent", "overpaid": a prefix on a verb it knows
        rest = word.removeprefix(prefix).lstrip("-")
        if rest != word and len(rest) > 2 and (found := verb_form(rest)):
            return prefix + found[0], found[1]
    if word in _FUNCTION_WORDS or not word.replace("-", "").replace("'", "").isalpha():
        return None
    oov = lexicon.oov_lemma(word)
    if word.endswith(("ed", "'d")):
        return oov, frozenset({"past"})
    if word.endswith("ing"):
        return oov, frozenset({"ing"})
    return None  # a base form it does not know counts only after "I'll" or "let me" (_maybe_verb)


class Claim(BaseModel):
    model_config = ConfigDict(frozen=True)

    sentence: str
    verb: str
    kind: str  # the Parley action that would back it, or "world"
    reason: str  # what the user is told


def lemma(verb: str) -> str:
    """The base form of a claim's verb ("booked" -> "book", "re-routed" -> "re-route")."""
    found = verb_form(verb)
    return found[0] if found else verb.lower()


def _tokens(sentence: str) -> list[str]:
    text = sentence.replace("’", "'").replace("‘", "'")
    for pattern, spelled in _CONTRACTIONS:
        text = pattern.sub(spelled, text)
    return [t.lower() for t in _TOKEN.findall(text)]


def _skip_adverbs(words: list[str], i: int) -> int:
    while i < len(words):
        if " ".join(words[i : i + 3]) in _GO_AHEAD:
            i += 3
        elif words[i] in _ADVERBS or (words[i].endswith("ly") and not verb_form(words[i])):
            i += 1
        else:
            return i
    return i


def _verb_at(words: list[str], i: int, form: str) -> str | None:
    """The word at `i` when it is a verb in `form`, else None."""
    if i >= len(words) or words[i] in _NEGATIONS:
        return None
    found = verb_form(words[i])
    if found is None and form == "base" and _maybe_verb(words[i]):
        return words[i]  # after "I'll" or "let me", a noun is a verb: "I'll text her", "let me ring them"
    return words[i] if found and form in found[1] else None


def _maybe_verb(word: str) -> bool:
    """Whether `word` may be used as a verb: a noun, or a word lemminflect does not know."""
    known = lexicon.parts(word)
    return word.isalpha() and word not in _FUNCTION_WORDS and (not known or "NOUN" in known)


def _first_person(words: list[str], i: int) -> tuple[str, int, str] | None:
    """After "I"/"we" at `i`: the verb of a claim, its index and form, or None."""
    j = _skip_adverbs(words, i + 1)
    if j >= len(words):
        return None
    aux = words[j]
    if aux in ("have", "had"):
        if j + 1 < len(words) and words[j + 1] == "been":  # "I've been chasing the courier"
            return _at(words, j + 2, "ing")
        # "I've sent it"; else "I had the form notarised" (the act is the participle, found later)
        causative = (aux, j, "past") if words[j + 1 : j + 2] not in ([n] for n in _NEGATIONS) else None
        found = _at(words, j + 1, "past")
        if found and found[0] == "got":  # "I've got a jacket": having, not doing
            return None
        return found or causative
    if aux in ("will", "shall"):
        if j + 1 < len(words) and words[j + 1] == "be":  # "I'll be sending it"
            return _at(words, j + 2, "ing")
        return _at(words, j + 1, "base")
    if aux in ("am", "are"):
        k = _skip_adverbs(words, j + 1)
        if words[k : k + 2] == ["going", "to"]:
            return _at(words, k + 2, "base")
        return _at(words, k, "ing")
    return _at(words, j, "past")


def _at(words: list[str], i: int, form: str) -> tuple[str, int, str] | None:
    """The verb in `form` after the adverbs from `i` on, its index and form; or None."""
    i = _skip_adverbs(words, i)
    verb = _verb_at(words, i, form)
    return (verb, i, form) if verb else None


def _passive(words: list[str], i: int) -> tuple[str, int, str] | None:
    """A passive result whose auxiliary starts at `i` ("has been", "was", "is now", "will be")."""
    aux = words[i]
    rest = words[i + 1 :]
    if aux in ("has", "have") and rest[:1] == ["been"] or aux == "will" and rest[:1] == ["be"]:
        after, definite_only = i + 2, False
    elif aux in ("has", "have") and rest[:2] in (["now", "been"], ["already", "been"], ["just", "been"]):
        after, definite_only = i + 3, False
    elif aux in ("was", "were"):
        after, definite_only = i + 1, False
    elif aux in ("is", "are"):
        after, definite_only = i + 1, True
    else:
        return None
    if i == 0 or words[i - 1] in _RELATIVE:
        return None
    # the subject: a determiner within the six words before, or an amount ("£30 has been credited")
    before = words[max(0, i - 6) : i]
    starts = [k for k, w in enumerate(before) if w in _DETERMINERS or w[:1].isdigit() and not definite_only]
    if not starts:
        return None
    start = i - len(before) + starts[-1]
    subject = words[start:i]
    if definite_only and subject[0] not in _DEFINITE:
        return None
    if aux == "will" and subject == ["you"]:  # "you'll be asked to log in": what the user will see
        return None
    if any(w in (",", ";", ":") for w in subject):
        return None
    for word in reversed(words[:start]):  # back to the start of its clause
        if word in _SUBORDINATE or lemma(word) in _SUBORDINATE:  # "verifying that ..." too
            return None
        if word in (",", ";", ":", "-", "("):
            break
    found = _at(words, after, "past")
    if found and _by_someone_else(found[0], words[found[1] + 1 : found[1] + 4]):
        return None  # "The file has been deleted by the cron job": a third party's act
    following = words[found[1] + 1] if found and found[1] + 1 < len(words) else ""
    if found and definite_only and following in _DESCRIBING and not _RESULT_NOW & set(words[after : found[1]]):
        return None
    return found


def _by_someone_else(verb: str, after: list[str]) -> bool:
    """Whether a passive's participle `verb` is followed by its agent, someone other than the
    assistant's side: "deleted by the cron job", "blocked by your bank" (not "by our team"; not a
    means, "by card"; not a time, "by the end of the week"; not what takes a thing's place,
    "replaced by a new one")."""
    if after[:1] != ["by"] or len(after) < 3 or lemma(verb) in _BY_OBJECT:
        return False
    return after[1] in _AGENT_START and after[2] not in _TIMES


def _claim_verbs(sentence: str) -> Iterator[str]:
    """The verbs of the claims in one sentence, the first first."""
    text = _QUOTED.sub(" ", _PARLEY_MARK.sub(" ", sentence)).strip()
    if not text or text.rstrip("\"')”’ ").endswith("?") or _CONDITIONAL_START.search(text):
        return
    if _ROLE_LABEL.match(text):
        return
    if _SPECIAL.search(text.replace("’", "'").replace("'ll", " will")):
        yield "ship"  # promised, done, or on its way
    words = _tokens(text)
    generic = _GENERIC.search(text) is not None
    experience = _EXPERIENCE.search(text) is not None
    for i, word in enumerate(words):
        found = None
        if word in _FIRST_PERSON and (i == 0 or words[i - 1] not in ("me", "you", "if", "as", "than")):
            found = None if experience else _first_person(words, i)
        elif word == "let" and words[i + 1 : i + 2] in (["me"], ["us"]):
            found = _at(words, i + 2, "base")
        elif not generic:
            found = _passive(words, i)
        if found is None and i == 0 and not generic:
            found = _elliptical(words, text)
        if found is None:
            continue
        verb, at, form = found
        span = words[i:at]
        if any(w in _NEGATIONS for w in span):
            continue
        yield from _acting([verb, *_joined(words, at, form)], words[at + 1 :], text)


def _elliptical(words: list[str], text: str) -> tuple[str, int, str] | None:
    """A claim without a subject or an auxiliary at the start of the sentence or of a clause after
    a colon or a dash (or a filler: "Sure, cancelled it."): its verb, index and form, or None."""
    labelled = [k + 1 for k, w in enumerate(words) if w in _CLAUSE_MARKS]
    starts = [0, *labelled, *([k + 1 for k, w in enumerate(words[:4]) if w == ","] if words[0] in _FILLERS else [])]
    for start in starts:
        s = start
        while s < len(words) and not words[s][:1].isalnum():  # a bullet or a check mark: "✓ Address updated"
            s += 1
        s = _skip_adverbs(words, s)  # "Just posted the remote to you."
        if s >= len(words):
            continue
        after = s + 1 + (words[s + 1 : s + 2] in ([p] for p in _PARTICLE_WORDS))  # "Turned off the lights"
        following = words[after] if after < len(words) else ""
        past = _verb_at(words, s, "past")
        if past and start in labelled and following not in _OBJECTS:  # "Refund: issued.", "Claim: lodged with"
            return past, s, "past"
        thing = following in _OBJECTS or following[:1].isdigit() or following in _NUMBERS
        if past and thing and _only_past(words[s]):  # "Cancelled your 3pm slot.", "Printed two copies"
            return past, s, "past"
        ing = _verb_at(words, s, "ing")
        if ing and following in _OBJECTS and not _finite_after(words, after):  # "Sending the invoice now."
            return ing, s, "ing"  # ("Checking the oil keeps it healthy": a gerund, the subject of "keeps")
        if s == 0 and words[0] == "will" and (found := _at(words, 1, "base")):  # "Will ring you back."
            return found
        if found := _noun_then_participle(words, s):
            return found
    return None


def _finite_after(words: list[str], i: int) -> bool:
    """Whether a finite verb or a modal follows `i` ("... keeps", "... is", "... can")."""
    return any(w in _MODALS or (f := verb_form(w)) is not None and not f[1] for w in words[i:])


def _noun_then_participle(words: list[str], s: int) -> tuple[str, int, str] | None:
    """ "Email sent.", "Your refund of £42 processed today.", "Booking confirmed: ...": a noun phrase
    of up to four words, then a participle that reports a result: no agent or manner after it, and
    nothing said to happen regularly ("Orders shipped within 2 days" is policy)."""
    if _HABITUAL.search(" ".join(words)):
        return None
    definite = words[s] in _DEFINITE
    for p in range(s + 1 + definite, min(s + 6 + definite, len(words))):
        between = words[s + definite : p]
        if not all(_in_noun_phrase(w) for w in between):
            return None  # "The link you sent", "She texted": a subject that acts, or a clause
        verb = _verb_at(words, p, "past")
        if verb is None:
            continue
        after = words[p + 1 : p + 5]
        if after[:1] and after[0] in _MANNER or "by" in after:  # "made with herbs", "signed for by ..."
            return None
        if len(after) > 1 and after[0] == "in" and re.fullmatch(r"1\d{3}", after[1]):
            return None  # "Photo taken in 1920": a caption
        if not definite and between[-1].endswith("s") and not {"your", "you", "the"} & set(words[p + 1 :]):
            return None  # things in general: "Missed appointments billed in full" is policy
        infinitive = len(after) > 1 and after[0] == "to" and (f := verb_form(after[1])) is not None and "base" in f[1]
        if after[:1] and after[0] in _OBJECTS or infinitive:
            return None  # "The courier delivered it", "The technician called to reschedule": an act's subject
        return verb, p, "past"
    return None


def _only_past(word: str) -> bool:
    """A past form that is no base form too ("cancelled"; "run" and "set" may be imperatives)."""
    form = verb_form(word)
    return form is not None and "past" in form[1] and "base" not in form[1]


def _in_noun_phrase(word: str) -> bool:
    """A word of a noun phrase before a participle: a noun, an adjective ("Lost card"), a number."""
    parts = lexicon.parts(word)
    noun_or_adjective = word not in _FUNCTION_WORDS and bool(parts & {"NOUN", "ADJ"})
    participle = parts == {"VERB"} and _only_past(word)
    return noun_or_adjective or participle or word[:1].isdigit() or word in _NUMBERS or word in _IN_AMOUNTS


def _joined(words: list[str], at: int, form: str) -> Iterator[str]:
    """Verbs joined to a claim's ("I've cancelled it and refunded you"), in the same form."""
    for k in range(at + 1, len(words) - 1):
        if words[k] in (".", ";", "?", "!") or words[k] in _FIRST_PERSON:
            return
        if words[k] == "and":
            aux = k + 1 + (form == "past" and words[k + 1 : k + 2] in (["have"], ["has"]))  # "and have paid"
            found = _at(words, aux, form)
            if found:
                yield found[0]


def _acting(verbs: list[str], after: list[str], text: str) -> Iterator[str]:
    for verb in verbs:
        base = lemma(verb)
        if base == "make" and after[:2] == ["sure", "to"]:  # "I'll make sure to call": the act is the next verb
            if len(after) < 3:  # "I'll make sure to" and no more (a reply cut short): no act named
                continue
            verb, after = after[2], after[3:]
            base = lemma(verb)
        if base in ("get", "have"):  # "I'll get the refund sorted": the act is the participle
            done = next((w for w in after[:5] if (f := verb_form(w)) and "past" in f[1]), None)
            verb, base = (done, lemma(done)) if done else (verb, base)
        acts = _PARTICLES.get(base, {}).get(after[0] if after else "")
        if acts is False or acts is None and (base in NOT_ACTING or base in FILE_ONLY and not _FILE_WORDS.search(text)):
            continue
        if _IN_REPLY.intersection(after[:4]):
            continue
        yield verb


# What a claim that no action can back is told, by the verb's base form.
_NOTICES = [
    ({"send", "email", "e-mail", "mail", "forward", "text", "message", "post", "fax", "dispatch"},
     "Parley cannot send emails or messages; nothing was sent"),
    ({"book", "reserve", "rebook"}, "Parley cannot make bookings; nothing was booked"),
    ({"cancel", "unsubscribe", "delete", "remove", "close", "terminate"},
     "Parley cannot cancel or delete anything; nothing was cancelled or deleted"),
    ({"process", "refund", "pay", "transfer", "credit", "issue", "reimburse", "charge", "waive"},
     "Parley cannot move money; no payment or refund was made"),
    ({"call", "phone", "ring", "contact", "notify", "reach", "ping"},
     "Parley cannot contact anyone; nobody was contacted"),
    ({"order", "buy", "purchase", "ship", "replace", "deliver", "return"},
     "Parley cannot order or ship anything; nothing was ordered"),
    ({"schedule", "reschedule", "set", "remind", "add"},
     "Parley cannot set reminders or change calendars; nothing was scheduled"),
]  # fmt: skip


def _reason(verb: str, kind: str) -> str:
    if kind != "world":
        return f"No action was taken: {kind} did not run in this turn."
    base = lemma(verb)
    for verbs, text in _NOTICES:
        if base in verbs:
            return f"No action was taken: {text}."
    return "No action was taken: nothing Parley ran backs this claim."


Backers = Callable[[str, str], list[str]]
# A sentence the grammar failed on is flagged, not passed: a notice too many rather than a claim missed.
UNCHECKED = "The claim check failed on this sentence; read it as a claim nothing backs"
Confirm = Callable[[str], bool]  # the learned check (moderation.claims_head): does it read as a claim?


def sentence_claim(
    sentence: str,
    executed: set[str] | frozenset[str] = frozenset(),
    backers: Backers | None = None,
    confirm: Confirm | None = None,
    before: str = "",
    said: str = "",
) -> Claim | None:
    """The first claim in `sentence` that no executed action (by name) backs, or None.

    `backers(verb, sentence)` names the actions that would back a claim (the action registry
    answers), given the verb's base form; none when only the world could. `confirm(sentence)`,
    when given, has the last word on a sentence the grammar takes for a claim. `before`: the
    reply's text before the sentence, where a quotation or a code block it is part of may have
    opened. `said`: the user's message, whose words the reply may repeat."""
    load()
    if _in_code(sentence, before) or _repeats(sentence, said):
        return None
    try:
        verbs = list(_claim_verbs(_closed_quotes(sentence, before)))
    except Exception as err:  # noqa: BLE001 - a fault in the grammar must not lose the turn: flag it
        return Claim(sentence=sentence.strip(), verb="", kind="world", reason=f"{UNCHECKED} ({type(err).__name__})")
    for verb in verbs:
        names = backers(lemma(verb), sentence) if backers else []
        if not executed.intersection(names):
            if confirm is not None and not confirm(sentence):
                return None
            kind = names[0] if names else "world"
            return Claim(sentence=sentence.strip(), verb=verb, kind=kind, reason=_reason(verb, kind))
    return None


def find_claims(
    reply: str,
    executed: set[str] | frozenset[str] = frozenset(),
    backers: Backers | None = None,
    confirm: Confirm | None = None,
    said: str = "",
) -> list[Claim]:
    """The sentences of `reply` that claim an action no executed action backs (one claim each);
    `said`: the user's message it answers."""
    found, start = [], 0
    for sentence in split_sentences(reply):  # the pieces join back to `reply`
        found.append(sentence_claim(sentence, executed, backers, confirm, reply[:start], said))
        start += len(sentence)
    return [claim for claim in found if claim is not None]


def _in_code(sentence: str, before: str) -> bool:
    """Whether `sentence` is code: inside a fenced block, or opening one (a string in a program,
    "I will fly tomorrow", is not the assistant saying so)."""
    return before.count("```") % 2 == 1 or sentence.lstrip().startswith("```")


def _repeats(sentence: str, said: str) -> bool:
    """Whether `sentence` repeats the user's own words: a reply that echoes "I bought them on
    Saturday" or "I have cancelled the card" back is quoting the user, not claiming anything."""
    words = _plain(sentence)
    return len(words.split()) >= 4 and f" {words} " in f" {_plain(said)} "


def _plain(text: str) -> str:
    """Lowercase words with single spaces between them, for comparing wording."""
    return " ".join(re.findall(r"[\w']+", text.lower().replace("’", "'")))


def _closed_quotes(sentence: str, before: str) -> str:
    """`sentence` with the quotation it is part of marked as one: a letter or a message quoted
    over several sentences is somebody's text, not the assistant's claims ("We're sending an
    engineer today," inside a complaint it drafts). A quotation open before the sentence opens
    again at its start; one left open at its end is closed there."""
    text = sentence
    if before.count('"') % 2:
        text = '"' + text
    if before.count("“") > before.count("”"):
        text = "“" + text
    if text.count('"') % 2:
        text += '"'
    if text.count("“") > text.count("”"):
        text += "”"
    return text


class ClaimWatch:
    """Claims in text as it is shown, sentence by sentence, so a notice can follow its sentence
    while the reply still streams. Only claims that no action could back are told this early:
    one that an action could back waits for the end of the turn, when its requests are answered.

    With `redaction` (the text that replaces a claim: `claims = "redact"`), nothing is let
    through before it is known to hold no claim: `release` passes on whole sentences, a claim
    no action could back replaced, and holds back from the first sentence an action could back
    until the turn ends (`rest`), when it is known whether one did."""

    def __init__(
        self,
        backers: Backers | None = None,
        confirm: Confirm | None = None,
        said: str = "",
        redaction: str = "",
        prose: Callable[[str], str] = str,
    ) -> None:
        self.backers = backers
        self.confirm = confirm
        self.said = said  # the user's message the reply answers
        self.redaction = redaction
        self.prose = prose  # a sentence as the reader sees it: its action requests taken out
        self.text = ""
        self.checked = 0  # where the first sentence not checked yet starts
        self.told: set[str] = set()  # the sentences whose claims were told
        self.waiting = False  # redacting: a sentence an action could back was held, and all after it
        self.held_from = 0  # where it starts

    def release(self, text: str, last: bool = False) -> tuple[str, list[Claim]]:
        """Take text that may be shown; return what may be shown now (redacting: whole sentences,
        claims replaced; else all of it) and the claims of the sentences it completed. `last`:
        the reply ended, so an unfinished last sentence is checked too."""
        self.text += text
        ends = [end.end() for end in SENTENCE_END.finditer(self.text, self.checked)]
        if last and self.checked < len(self.text) and ends[-1:] != [len(self.text)]:
            ends.append(len(self.text))
        shown, found = [], []
        for end in ends:
            before, sentence, self.checked = self.text[: self.checked], self.text[self.checked : end], end
            if self.waiting:
                continue
            claim = sentence_claim(self.prose(sentence), frozenset(), self.backers, self.confirm, before, self.said)
            if claim is not None and claim.kind == "world":
                self.told.add(claim.sentence)
                found.append(claim)
                sentence = sentence.replace(claim.sentence, self.redaction) if self.redaction else sentence
            elif claim is not None and self.redaction:
                self.waiting, self.held_from = True, len(before)
                continue
            shown.append(sentence)
        return ("".join(shown) if self.redaction else text), found

    def rest(self) -> str:
        """Redacting, once the turn's requests are answered: what was held back since the first
        sentence an action could back."""
        held = self.text[self.held_from :] if self.waiting else ""
        self.text, self.checked, self.waiting = "", 0, False
        return held


# Parley's own notices and marks, as a reply might imitate them ("[removed: insult]",
# "[action save_note ran: ...]", "✅ Note saved."): Parley writes its marks with ⟦ ⟧, which
# model text cannot contain, so a bracketed look-alike in a reply is the model's.
# Brackets and their look-alikes; not ⟦ ⟧, which only Parley writes (a reply cannot contain them).
_OPEN, _CLOSE = "\\[［〖【⟬⦃⸨⦗⟨《「『", "\\]］〗】⟭⦄⸩⦘⟩》」』"
_NOTICE_WORDS = (
    r"removed\s*:|reply withheld|reply withdrawn|action\s+\w+\s+(?:ran|failed|not run)|moderation\s*:"
    rf"|no action was taken|stopped\s*[{_CLOSE}]|cut at max_tokens|context full|parley\s*:"
)
_STATUS = r"(?:saved|done|sent|booked|confirmed|completed|scheduled|ran|executed|cancelled|canceled|paid|ordered)"
_IMITATION = re.compile(
    rf"[{_OPEN}]\s*(?:{_NOTICE_WORDS})[^{_CLOSE}\n]{{0,200}}[{_CLOSE}]?"
    # a check mark and a status word in the same sentence
    rf"|[✅✔☑]\ufe0f?[^\n.!?]{{0,40}}\b{_STATUS}\b[^\n]{{0,60}}|[^\n.!?]{{0,60}}\b{_STATUS}\b[^\n.!?]{{0,10}}[✅✔☑]\ufe0f?",
    re.IGNORECASE,
)


def find_imitations(reply: str) -> list[str]:
    """Passages of `reply` that imitate Parley's own notices."""
    return [m.group().strip() for m in _IMITATION.finditer(reply)]
