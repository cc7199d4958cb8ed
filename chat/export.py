"""Export a conversation as Markdown or JSON, chosen by the file ending.

In Markdown, a message keeps its formatting (lists, emphasis, quotes, code blocks) but gains no
structure: a line cannot become a heading (so no message can forge a turn), a code block is
closed within its message (so none can swallow the turns after it), HTML is escaped, and there
are no links or images (nothing is loaded or run when the file is viewed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from chat.conversation import Conversation
from chat.errors import ParleyError
from chat.files import write_atomic
from chat.sanitize import clean

FORMATS = (".md", ".json")
# At the start of a line outside code: a heading (ATX or setext underline), which would give a
# message structure.
_STRUCTURE = re.compile(r"^( {0,3})(#|=+[ \t]*$|-+[ \t]*$)", re.MULTILINE)
# A code fence as CommonMark opens one at the top level: up to three spaces, then three or more
# backticks or tildes, then an info string (a backtick fence's has no backtick).
_FENCE = re.compile(r"^( {0,3})(`{3,}(?=[^`]*$)|~{3,})(.*)$")
_LANGUAGE = re.compile(r"[\w+#.-]{1,30}")


def _prose(text: str) -> str:
    """Text outside code as Markdown with nothing active in it: `<` escaped (no HTML), no
    heading, and no link or image (every `[` is escaped, so no reference definition either)."""
    text = text.replace("<", "&lt;").replace("[", "\\[")
    return _STRUCTURE.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


def _code(lines: list[str], indent: int, info: str) -> str:
    """A code block written as a top-level fence longer than any backtick run inside it: its
    text is shown as written, and only Parley's own closing fence can end it (one the message
    nested in a list could otherwise be ended early by the list, and what followed be HTML)."""
    body = "\n".join(line[min(indent, len(line) - len(line.lstrip(" "))) :] for line in lines)
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    language = info.strip().split(" ")[0]
    language = language if _LANGUAGE.fullmatch(language) else ""
    return f"\n{fence}{language}\n{body}\n{fence}\n"


def as_markdown_text(text: str) -> str:
    """`text` as Markdown that renders as that text's words and formatting, with nothing active
    in it and no structure of its own (see the module's docstring)."""
    parts: list[str] = []
    prose: list[str] = []
    code: list[str] | None = None  # the open code block's lines
    opening = ("", 0, "")  # the open block's fence, its indentation and info string
    for line in clean(text).split("\n"):
        found = _FENCE.match(line)
        if code is None and found:
            parts.append(_prose("\n".join(prose)))
            prose, code, opening = [], [], (found.group(2), len(found.group(1)), found.group(3))
        elif code is None:
            prose.append(line)
        elif (
            found
            and found.group(2)[0] == opening[0][0]
            and len(found.group(2)) >= len(opening[0])
            and not found.group(3).strip()
        ):
            parts.append(_code(code, opening[1], opening[2]))
            code = None
        else:
            code.append(line)
    if code is not None:  # never closed: it ends with the message
        parts.append(_code(code, opening[1], opening[2]))
    parts.append(_prose("\n".join(prose)))
    return "\n".join(part for part in parts if part)


def to_markdown(conversation: Conversation, model: str) -> str:
    parts = [f"# Conversation with {as_markdown_text(model)}\n"]
    if conversation.system:
        parts.append(f"## System\n\n{as_markdown_text(conversation.system)}\n")
    for number, turn in enumerate(conversation.turns, start=1):
        note = "" if turn.in_context else " (out of context)"
        parts.append(f"## User ({number}){note}\n\n{as_markdown_text(turn.user)}\n")
        if turn.reply is not None:
            stopped = "" if turn.reply.finish_reason == "stop" else f" [{turn.reply.finish_reason}]"
            parts.append(f"## Assistant{stopped}\n\n{as_markdown_text(turn.reply.content)}\n")
    return "\n".join(parts)


def to_json(conversation: Conversation, model: str) -> str:
    messages = conversation.system_messages()
    for turn in conversation.turns:
        messages.extend(turn.messages())
    cleaned = [{"role": m["role"], "content": clean(m["content"])} for m in messages]
    return json.dumps({"model": model, "messages": cleaned}, indent=2, ensure_ascii=False) + "\n"


def render(suffix: str, conversation: Conversation, model: str) -> str:
    """The conversation as the file ending `suffix` asks for (".md" or ".json")."""
    if suffix.lower() == ".md":
        return to_markdown(conversation, model)
    if suffix.lower() == ".json":
        return to_json(conversation, model)
    raise ParleyError(f"cannot export to a '{suffix}' file: use a .md or .json file name")


def is_export(head: str) -> bool:
    """Whether a file starting with `head` is an export of Parley's (Markdown or JSON)."""
    return head.startswith("# Conversation with ") or head.startswith('{\n  "model": ') and '"messages"' in head


def export(path: Path, conversation: Conversation, model: str) -> None:
    text = render(path.suffix, conversation, model)
    try:
        write_atomic(path, text)
    except OSError as err:
        raise ParleyError(f"cannot write {clean(str(path))}: {err.strerror}") from None
