"""The JSON events that `--json` prints and `--transcript` appends, one per line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chat.conversation import ActionRecord
from chat.session import Session, TurnResult


def now() -> str:
    return datetime.now(UTC).isoformat()


def session_start(session: Session) -> dict[str, Any]:
    info = session.engine.info
    return {
        "type": "session",
        "time": now(),
        "model": session.model_name,
        "path": info.path,
        "n_ctx": info.n_ctx,
        "n_gpu_layers": info.n_gpu_layers,
        "chat_format": info.chat_format,
        "system": session.conversation.system,
        "prompt": session.conversation.prompt_name,
        "params": session.params.model_dump(),
        "moderation": session.moderator.backend_name if session.moderator.enabled else "off",
    }


def turn(result: TurnResult) -> dict[str, Any]:
    reply = result.turn.reply
    assert reply is not None
    return {
        "type": "turn",
        "time": now(),
        "model": reply.model,
        "user": result.turn.user,
        "reply": reply.content,
        "finish_reason": reply.finish_reason,
        "params": reply.params.model_dump(),
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "evaluated_prompt_tokens": reply.evaluated_prompt_tokens,
        },
        "context": {"used": result.context_used, "n_ctx": result.n_ctx, "dropped_turns": result.dropped},
        "timing": {
            "ttft_s": reply.ttft_s,
            "total_s": reply.duration_s,
            "tokens_per_s": reply.tokens_per_s,
        },
        "moderation": reply.moderation,
        "guard": reply.guard,
        "actions": [a.model_dump(mode="json") for a in result.turn.actions],
    }


def action(record: ActionRecord) -> dict[str, Any]:
    return {"type": "action", "time": now(), **record.model_dump(mode="json", exclude={"created"})}


def command(line: str, output: str, ok: bool) -> dict[str, Any]:
    return {"type": "command", "time": now(), "command": line, "ok": ok, "output": output}


def error(message: str) -> dict[str, Any]:
    return {"type": "error", "time": now(), "error": message}
