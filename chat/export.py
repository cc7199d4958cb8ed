"""Export a conversation as Markdown or JSON, chosen by the file ending.

In Markdown, the messages are text, never structure: HTML is escaped, a line cannot become a
heading (so no message can forge a turn), images are not loaded and links to scripts or data
are not links.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from chat.conversation import Conversation
from chat.errors import ParleyError
from chat.files import write_atomic
from chat.sanitize import clean

FORMATS = (".md", ".json")
_HEADING = re.compile(r"^( {0,3})(#|=+[ \t]*$|-+[ \t]*$|\[[^\]\n]*\]:)", re.MULTILINE)  # ATX, setext, link definitions
_UNSAFE_LINK = re.compile(r"\]\(\s*<?\s*(?=(?:javascript|vbscript|data|file):)", re.IGNORECASE)


def as_markdown_text(text: str) -> str:
    """`text` as Markdown that renders as that text's words, with nothing active in it."""
    text = html.escape(clean(text), quote=False)
    text = _HEADING.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)
    text = text.replace("![", "!\\[")  # an image would be fetched when the file is viewed
    return _UNSAFE_LINK.sub("]\\(", text)


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


def export(path: Path, conversation: Conversation, model: str) -> None:
    text = render(path.suffix, conversation, model)
    try:
        write_atomic(path, text)
    except OSError as err:
        raise ParleyError(f"cannot write {clean(str(path))}: {err.strerror}") from None
