"""Export a conversation as Markdown or JSON, chosen by the file extension."""

from __future__ import annotations

import json
from pathlib import Path

from chat.conversation import Conversation
from chat.errors import ParleyError
from chat.sanitize import clean


def to_markdown(conversation: Conversation, model: str) -> str:
    parts = [f"# Conversation with {model}\n"]
    if conversation.system:
        parts.append(f"## System\n\n{clean(conversation.system)}\n")
    for number, turn in enumerate(conversation.turns, start=1):
        note = "" if turn.in_context else " (out of context)"
        parts.append(f"## User ({number}){note}\n\n{clean(turn.user)}\n")
        if turn.reply is not None:
            stopped = "" if turn.reply.finish_reason == "stop" else f" [{turn.reply.finish_reason}]"
            parts.append(f"## Assistant{stopped}\n\n{clean(turn.reply.content)}\n")
    return "\n".join(parts)


def to_json(conversation: Conversation, model: str) -> str:
    messages = conversation.system_messages()
    for turn in conversation.turns:
        messages.extend(turn.messages())
    cleaned = [{"role": m["role"], "content": clean(m["content"])} for m in messages]
    return json.dumps({"model": model, "messages": cleaned}, indent=2, ensure_ascii=False) + "\n"


def export(path: Path, conversation: Conversation, model: str) -> None:
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        text = to_markdown(conversation, model)
    elif suffix == ".json":
        text = to_json(conversation, model)
    else:
        raise ParleyError(f"cannot export to '{path.name}': use a .md or .json file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ParleyError(f"cannot write {path}: {err.strerror}") from None
