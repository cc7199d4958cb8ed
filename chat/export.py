"""Export a conversation as Markdown or JSON, chosen by the file ending.

In Markdown, the messages are text, never structure: HTML is escaped, a line cannot become a
heading or a code fence (so no message can forge or swallow a turn), and there are no links or
images (nothing is loaded or run when the file is viewed).
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
# At the start of a line: a heading (ATX or setext underline) or a code fence, which would give a
# message structure (a fence left open would swallow every later turn).
_STRUCTURE = re.compile(r"^( {0,3})(#|=+[ \t]*$|-+[ \t]*$|```|~~~)", re.MULTILINE)


def as_markdown_text(text: str) -> str:
    """`text` as Markdown that renders as that text's words, with nothing active in it: HTML
    escaped, no heading or code fence, and no link or image (every `[` is escaped, so no
    reference definition either)."""
    text = html.escape(clean(text), quote=False).replace("[", "\\[")
    return _STRUCTURE.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


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
