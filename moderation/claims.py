"""Unbacked action claims: sentences in which the assistant says it did, or will do, something in
the world ("I've booked your table", "Your refund has been processed", "I'll send it tonight")
that no action executed in this turn backs.

A small set of patterns over one sentence at a time: first-person past or perfect, first-person
commitments, and passive results, each with a verb of acting in the world. Quoted speech is
removed first; questions, negations, conditionals and generic statements are not claims.
Tuned on the dev split of bench/data/claims.jsonl; bench/claims.py reports the test split.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from moderation.sentences import split_sentences

# Acting in the world: past forms, base forms, -ing forms.
PAST = (
    "booked reserved sent emailed e-mailed mailed cancelled canceled processed issued set scheduled rescheduled "
    "ordered placed transferred paid updated changed reset upgraded submitted filed opened created escalated "
    "forwarded called phoned contacted notified added removed deleted renewed extended arranged confirmed bought "
    "purchased applied credited refunded replaced shipped posted published texted messaged uploaded unsubscribed "
    "secured registered signed saved exported delivered written wrote read"
).split()
BASE = (
    "book reserve send email e-mail mail cancel process issue set schedule reschedule order place transfer pay "
    "update change reset upgrade submit file open create escalate forward call phone contact notify add remove "
    "delete renew extend arrange confirm buy purchase apply credit refund replace ship post publish text message "
    "upload unsubscribe register sign save export deliver remind follow reach keep check take get read"
).split()
ING = (
    "booking reserving sending emailing cancelling canceling processing issuing setting scheduling rescheduling "
    "ordering "
    "placing transferring paying updating changing resetting upgrading submitting filing opening creating "
    "escalating forwarding calling contacting notifying adding removing deleting renewing arranging confirming "
    "buying purchasing refunding replacing shipping posting uploading saving exporting reading"
).split()
PARTICIPLE = [*PAST, "made", "taken care of", "written", "done"]

_W = r"[\w'’]+\s+"  # one filler word (no punctuation: a claim does not cross a comma)
_FIRST_PERSON_PAST = re.compile(
    rf"\b(?:I|we)(?:['’]ve|\s+have|\s+had)?\s+(?:{_W}){{0,3}}?(?P<verb>{'|'.join(PAST)}|backed\s+up|let\s+(?:{_W}){{1,3}}know"
    rf"|made\s+(?:{_W}){{0,2}}(?:reservation|booking|payment|appointment|transfer|call)|taken\s+care)\b",
    re.IGNORECASE,
)
_FIRST_PERSON_FUTURE = re.compile(
    rf"\b(?:I['’]ll|I\s+will|I\s+shall|we['’]ll|we\s+will|I['’]m|I\s+am|let\s+me)\s+(?:{_W}){{0,2}}?"
    rf"(?P<verb>{'|'.join(BASE + ING)}|make\s+sure\s+(?:the|your|that|it)|make\s+(?:a|the|your)\s+"
    rf"(?:reservation|booking|payment|transfer|call|appointment))\b",
    re.IGNORECASE,
)
# "has been" and "will be" results for any subject; a bare "is/are" only for a definite one
# ("Your table is booked" is a claim, "An email is sent through SMTP" is how things work).
_PASSIVE = re.compile(
    rf"\b(?:(?:your|the|a|an|my|this|that|everything|it|you)\s+(?:{_W}){{0,3}}?|you|it)"
    rf"(?:\s*(?:has|have|['’]s|['’]ve)\s+been|\s*will\s+be|\s*(?:was|were))\s+"
    rf"(?:successfully\s+|already\s+|now\s+|just\s+)?(?P<verb>{'|'.join(PARTICIPLE)}|on\s+its\s+way)\b"
    rf"|\b(?:your|the|my|this|that|everything)\s+(?:{_W}){{0,3}}?(?:is|are)\s+(?:now\s+|already\s+)?"
    rf"(?P<verb2>{'|'.join(PARTICIPLE)}|on\s+its\s+way)\b",
    re.IGNORECASE,
)
# "..., and booked the room": another claim joined to a first-person one
_AND_PAST = re.compile(rf"\band\s+(?:then\s+|also\s+)?(?P<verb>{'|'.join(PAST)})\b", re.IGNORECASE)
_SPECIAL = re.compile(
    r"(?P<verb>you['’]ll\s+receive\s+.*\bfrom\s+me\b|consider\s+it\s+done|all\s+set\s*,\s*I)", re.IGNORECASE
)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|(?<!\w)'.*?'(?!\w)")
_NEGATION = re.compile(r"\b(?:not|never|no|unable|cannot|nothing)\b|n['’]t\b", re.IGNORECASE)
_CONDITIONAL_START = re.compile(
    r"^\s*(?:if|once|when|had|suppose|imagine|assuming|in\s+a\s+real|whenever|unless)\b", re.IGNORECASE
)
_GENERIC = re.compile(r"\b(?:usually|typically|generally|normally|often|always|sometimes|would|could|might)\b", re.I)

_FILE_WORDS = re.compile(r"\b(?:file|files|workspace|\.txt|\.md)\b|\w\.(?:txt|md|json)\b", re.IGNORECASE)
# Verbs that are a claim only about a file ("I've written notes.txt"), not work done in the reply
# ("I've written a draft below", "I read that as a question").
_FILE_ONLY = {"written", "wrote", "read"}

# What a claim that no action can back is told, by the verb's base form.
_NOTICES = [
    ({"send", "email", "e-mail", "mail", "forward", "text", "message"},
     "Parley cannot send emails or messages; nothing was sent"),
    ({"book", "reserve", "make"}, "Parley cannot make bookings; nothing was booked"),
    ({"cancel", "unsubscribe", "delete", "remove"}, "Parley cannot cancel or delete anything; nothing was cancelled"),
    ({"process", "refund", "pay", "transfer", "credit", "issue", "apply"},
     "Parley cannot move money; no payment or refund was made"),
    ({"call", "phone", "contact", "notify", "reach"}, "Parley cannot contact anyone; nobody was contacted"),
    ({"order", "buy", "purchase", "ship", "replace", "deliver", "on its way"},
     "Parley cannot order or ship anything; nothing was ordered"),
    ({"schedule", "reschedule", "set", "remind", "add"},
     "Parley cannot set reminders or change calendars; nothing was scheduled"),
]  # fmt: skip

_IRREGULAR = {"sent": "send", "made": "make", "bought": "buy", "paid": "pay", "wrote": "write", "written": "write",
              "done": "do", "taken": "take", "set": "set", "read": "read", "on": "on its way"}  # fmt: skip
_BASE = set(BASE)


def lemma(verb: str) -> str:
    """The base form of a claim's verb as the patterns find it ("booked" -> "book")."""
    word = verb.lower().split()[0]
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    candidates = [word, word[:-2], word[:-1], word[:-3] + "y", word[:-3], word[:-3] + "e", word[:-4]]
    return next((c for c in candidates if c in _BASE), word)


class Claim(BaseModel):
    model_config = ConfigDict(frozen=True)

    sentence: str
    verb: str
    kind: str  # the Parley action that would back it, or "world"
    reason: str  # what the user is told


def _reason(verb: str, kind: str) -> str:
    if kind != "world":
        return f"No action was taken: {kind} did not run in this turn."
    base = lemma(verb)
    for verbs, text in _NOTICES:
        if base in verbs:
            return f"No action was taken: {text}."
    return "No action was taken: nothing Parley ran backs this claim."


def _claim_verbs(sentence: str) -> list[str]:
    text = _QUOTED.sub(" ", sentence).strip()
    if not text or text.endswith("?") or _CONDITIONAL_START.search(text):
        return []
    verbs = []
    for pattern in (_FIRST_PERSON_PAST, _FIRST_PERSON_FUTURE, _PASSIVE, _SPECIAL):
        for match in pattern.finditer(text):
            span = match.group(0)
            if _NEGATION.search(span) or (pattern is _PASSIVE and _GENERIC.search(text)):
                continue
            verb = match.groupdict().get("verb") or match.group("verb2")
            if verb.lower() in _FILE_ONLY and not _FILE_WORDS.search(text):
                continue  # "I've written a draft below" is work done in the reply
            verbs.append(verb)
            if pattern is _FIRST_PERSON_PAST:
                verbs.extend(m.group("verb") for m in _AND_PAST.finditer(text, match.end()))
    return verbs


def find_claims(
    reply: str,
    executed: set[str] | frozenset[str] = frozenset(),
    backer: Callable[[str, str], str | None] = lambda verb, sentence: None,
) -> list[Claim]:
    """Sentences of `reply` that claim an action that no executed action (by name) backs.

    `backer(verb, sentence)` names the action that would back a claim (the action registry
    answers), given the verb's base form; None when only the world could."""
    claims = []
    for sentence in split_sentences(reply):
        for verb in _claim_verbs(sentence):
            kind = backer(lemma(verb), sentence) or "world"
            if kind not in executed:
                claims.append(Claim(sentence=sentence.strip(), verb=verb, kind=kind, reason=_reason(verb, kind)))
                break  # one notice per sentence
    return claims


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
