"""Exact context-window accounting and the overflow policy.

Every count is the chat-templated prompt tokenized by the model's own tokenizer. Before a
generation, prompt tokens + max_tokens must fit n_ctx.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chat.conversation import Conversation
from chat.engine import Engine, Message
from chat.errors import ContextOverflowError


@dataclass(frozen=True)
class TurnUsage:
    index: int  # 1-based turn number, as shown to the user
    tokens: int
    in_context: bool


@dataclass(frozen=True)
class ContextReport:
    n_ctx: int
    system_tokens: int
    turns: list[TurnUsage]
    used: int  # the templated prompt of the in-context turns, with the assistant header
    reserved: int  # max_tokens, kept free for the reply
    exact: bool = True  # False: the engine estimates (a server that does not say how it tokenizes)

    @property
    def caveat(self) -> str:
        """What the reader must know of the numbers, if anything."""
        return "" if self.exact else "approximate counts, over-estimated: the server does not say how it tokenizes"

    @property
    def free(self) -> int:
        return max(0, self.n_ctx - self.used - self.reserved)

    def format(self) -> str:
        lines = [f"system prompt    {self.system_tokens:>7}"]
        for t in self.turns:
            mark = "" if t.in_context else "  (out of context)"
            lines.append(f"turn {t.index:<11} {t.tokens:>7}{mark}")
        lines += [
            f"in context       {self.used:>7}",
            f"reserved (reply) {self.reserved:>7}",
            f"free             {self.free:>7}",
            f"n_ctx            {self.n_ctx:>7}",
        ]
        dropped = [str(t.index) for t in self.turns if not t.in_context]
        if dropped:
            lines.append(f"out of context: turn(s) {', '.join(dropped)}")
        if self.caveat:
            lines.append(self.caveat)
        return "\n".join(lines)


def report(engine: Engine, conversation: Conversation, max_tokens: int) -> ContextReport:
    """Per-part token counts. A turn's size is the growth of the templated prefix it causes."""
    prefix = conversation.system_messages()
    system_tokens = engine.count_tokens(prefix, add_generation_prompt=False) if prefix else 0
    before = system_tokens
    turns = []
    for number, turn in enumerate(conversation.turns, start=1):
        if turn.in_context:
            prefix = prefix + turn.messages()
            after = engine.count_tokens(prefix, add_generation_prompt=False)
            tokens, before = after - before, after
        else:
            tokens = engine.count_tokens(turn.messages(), add_generation_prompt=False)
        turns.append(TurnUsage(number, tokens, turn.in_context))
    used = engine.count_tokens(conversation.context_messages(), add_generation_prompt=True)
    return ContextReport(engine.info.n_ctx, system_tokens, turns, used, max_tokens, engine.info.counts == "exact")


def fits(engine: Engine, conversation: Conversation, user: str, max_tokens: int) -> bool:
    """Whether the next prompt and the reply's reserve fit the window as the conversation is."""
    return engine.count_tokens(conversation.context_messages(user)) + max_tokens <= engine.info.n_ctx


def fit(engine: Engine, conversation: Conversation, user: str, max_tokens: int, policy: str) -> tuple[int, list[int]]:
    """Make the next prompt fit; return (prompt tokens, 1-based numbers of turns dropped now).

    `truncate` drops the oldest whole turns, never the system prompt or the new message, until
    a quarter of the window is free beyond the reply reserve (see `_drop_oldest`).
    """
    n_ctx = engine.info.n_ctx
    needed = engine.count_tokens(conversation.context_messages(user)) + max_tokens
    if needed <= n_ctx:
        return needed - max_tokens, []
    alone = engine.count_tokens(conversation.system_messages() + [{"role": "user", "content": user}])
    empty = engine.count_tokens(conversation.system_messages() + [{"role": "user", "content": ""}])
    if empty + max_tokens > n_ctx:  # no message would fit: the reserve is the cause, not the message
        raise ContextOverflowError(
            f"max_tokens {max_tokens} leaves no room: with the system prompt ({empty} tokens) it is "
            f"{empty + max_tokens - n_ctx} over the {n_ctx}-token window (lower /max_tokens)"
        )
    if alone + max_tokens > n_ctx:
        raise ContextOverflowError(
            f"message too long: with the system prompt it is {alone} tokens, plus {max_tokens} reserved "
            f"for the reply that is {alone + max_tokens - n_ctx} over the {n_ctx}-token window "
            "(shorten it, or lower /max_tokens)"
        )
    if policy == "error":
        raise ContextOverflowError(
            f"context full: the prompt needs {needed - max_tokens} tokens plus {max_tokens} reserved, "
            f'{needed - n_ctx} over the {n_ctx}-token window (use /clear, or overflow = "truncate")'
        )
    needed, dropped = _drop_oldest(
        conversation, lambda: engine.count_tokens(conversation.context_messages(user)) + max_tokens, n_ctx, keep=0
    )
    return needed - max_tokens, dropped


def fit_continuation(
    engine: Engine, conversation: Conversation, max_tokens: int, policy: str
) -> tuple[list[Message], int, list[int]]:
    """The prompt that continues the last reply (the model sees it as its own unfinished text),
    its tokens, and the 1-based numbers of the turns dropped to make room, as `fit` drops them."""
    reply = conversation.turns[-1].reply
    assert reply is not None

    def messages() -> list[Message]:
        found = conversation.context_messages()
        found[-1] = {"role": "assistant", "content": reply.content}  # as written, its thinking too
        return found

    def needed() -> int:
        return engine.count_tokens(messages(), add_generation_prompt=False) + max_tokens

    n_ctx = engine.info.n_ctx
    last = conversation.system_messages() + conversation.turns[-1].messages()[:-1] + messages()[-1:]
    alone = engine.count_tokens(last, add_generation_prompt=False) + max_tokens
    total, dropped = needed(), list[int]()
    if total > n_ctx and policy != "error" and alone <= n_ctx:
        total, dropped = _drop_oldest(conversation, needed, n_ctx, keep=1)
    if total > n_ctx:
        remedy = "lower /max_tokens, or /clear" + (', or overflow = "truncate"' if policy == "error" else "")
        raise ContextOverflowError(
            f"no room to continue: {total - max_tokens} prompt tokens plus {max_tokens} for the reply exceed the "
            f"{n_ctx}-token window ({remedy})"
        )
    return messages(), total - max_tokens, dropped


def _drop_oldest(conversation: Conversation, needed: Callable[[], int], n_ctx: int, keep: int) -> tuple[int, list[int]]:
    """Take the oldest turns out of the context, but the last `keep`, until what `needed` counts
    leaves a quarter of the window free (so that the next turns append to an unchanged prefix
    and the KV cache keeps being reused); return that count and the turns' 1-based numbers."""
    target = n_ctx - n_ctx // 4
    total, dropped = needed(), []
    for number, turn in enumerate(conversation.turns[: len(conversation.turns) - keep], start=1):
        if total <= target:
            break
        if turn.in_context:
            turn.in_context = False
            dropped.append(number)
            total = needed()
    return total, dropped
