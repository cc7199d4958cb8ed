"""One reply, streamed from the engine through moderation: model text is cleaned of anything
that could act on a terminal, then moderated, and only moderated text is shown. The engine runs
in a thread of its own, so it never waits for moderation; the display does."""

from __future__ import annotations

import math
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from chat.conversation import FinishReason, ModerationRecord, Reply
from chat.engine import Message, StreamEnd, TextDelta
from chat.sampling import Sampling
from chat.sanitize import from_model, mark
from chat.session import Session
from moderation.stream import StreamFilter


class _Producer:
    """The engine's stream, run in a thread of its own: llama.cpp goes on generating while the
    text it produced waits for moderation. Yields (when, event) pairs, then stops; a failure of
    the engine comes as an event too."""

    _END = object()

    def __init__(
        self, session: Session, messages: list[Message], params: Sampling, cancel: threading.Event,
        schema: dict[str, Any] | None, continue_reply: bool, logprobs: bool,
    ) -> None:  # fmt: skip
        self._events: queue.SimpleQueue[tuple[float, object]] = queue.SimpleQueue()

        def produce() -> None:
            try:
                for event in session.engine.stream(messages, params, cancel, schema, continue_reply, logprobs):
                    self._events.put((time.perf_counter(), event))
            except Exception as err:  # handed over, raised nowhere
                self._events.put((time.perf_counter(), err))
            finally:
                self._events.put((time.perf_counter(), self._END))

        self._thread = threading.Thread(target=produce, name="generate", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __iter__(self) -> Iterator[tuple[float, TextDelta | StreamEnd | Exception]]:
        while True:
            stamp, event = self._events.get()
            if event is self._END:
                return
            yield stamp, event  # type: ignore[misc]

    def close(self) -> None:
        """Wait for the engine to stop: the model is never freed under a running generation."""
        self._thread.join()


def redacted(category: str) -> str:
    """What a reader sees in place of a sentence moderation removed."""
    return mark(f"removed: {category}")


def generate(
    session: Session,
    messages: list[Message],
    params: Sampling,
    prompt_tokens: int,
    cancel: threading.Event,
    schema: dict[str, Any] | None,
    show: Callable[[str], None],
    continue_reply: bool = False,
) -> tuple[Reply, Exception | None]:
    """Stream a reply to `messages`, passing each moderated piece to `show` as it is released.

    A cancelled or failed generation keeps its partial reply (finish_reason says which), so
    nothing the user saw is lost; a failure comes back beside it. With `schema`, a grammar
    holds the reply to it; with `continue_reply`, the reply goes on from the last message (the
    text returned is the new part)."""
    if params.seed is None:  # drawn here, so that the reply records the seed it came from and can be reproduced
        params = params.model_copy(update={"seed": random.randrange(2**32)})
    screen = StreamFilter(session.moderator, redacted) if session.moderator.enabled else None
    shown: list[str] = []
    start = time.perf_counter()
    ttft: float | None = None

    def release(text: str) -> None:
        nonlocal ttft
        if text:
            ttft = ttft if ttft is not None else time.perf_counter() - start
            shown.append(text)
            show(text)

    # Stands in for the engine's own StreamEnd if the stream fails before it arrives.
    end = StreamEnd("cancelled", prompt_tokens, 0, prompt_tokens)
    first_token = last_token = 0.0  # when the model produced text (moderation may show it later)
    failure: Exception | None = None
    produced = 0  # tokens generated, for the record when the stream fails before its end
    unseen = False  # text the engine produced after the reply was stopped
    stream = _Producer(session, messages, params, cancel, schema, continue_reply, session.logprobs)
    try:
        for stamp, event in stream:
            if isinstance(event, Exception):  # the engine failed: keep what was shown, report it after
                failure = event
                end = StreamEnd(end.finish_reason, end.prompt_tokens, produced, end.evaluated_prompt_tokens)
            elif isinstance(event, StreamEnd):
                end = event
            else:
                produced += event.tokens
                last_token = stamp
                first_token = first_token or stamp
                if cancel.is_set():  # stopped or blocked: what the engine produced since is not shown
                    unseen = True
                    continue
                text = from_model(event.text)  # moderation sees exactly what will be shown
                release(text if screen is None else screen.feed(text))
                if screen is not None and screen.blocked:
                    cancel.set()  # stop generating: nothing more of this reply will be shown
        if screen is not None and failure is None:
            release(screen.finish())
    finally:
        cancel.set() if stream.running else None
        stream.close()
    finish: FinishReason = (
        "error" if failure else "blocked" if screen and screen.blocked else "cancelled" if unseen else end.finish_reason
    )
    content = "".join(shown)
    if screen is not None and screen.blocked is not None:
        # The model sees this in later turns, so it knows its reply never reached the user.
        content = mark(f"reply withheld by moderation: {screen.blocked.label}")
    reply = Reply(
        content=content, model=session.model_name, params=params, finish_reason=finish,
        prompt_tokens=end.prompt_tokens, completion_tokens=end.completion_tokens,
        evaluated_prompt_tokens=end.evaluated_prompt_tokens, ttft_s=ttft, duration_s=time.perf_counter() - start,
        moderation=None if screen is None else ModerationRecord(
            decision=screen.decision, backend=session.moderator.backend_name, flagged=screen.flagged
        ),
    )  # fmt: skip
    if end.logprobs:
        reply.perplexity = math.exp(-sum(t.logprob for t in end.logprobs) / len(end.logprobs))
        whole = finish in ("stop", "length") and (screen is None or screen.decision in ("allow", "warn"))
        reply.logprobs = list(end.logprobs) if whole else None
    # The model's own pace: the tokens after the first, over the time they took.
    if end.completion_tokens > 1 and last_token > first_token:
        reply.tokens_per_s = (end.completion_tokens - 1) / (last_token - first_token)
    return reply, failure
