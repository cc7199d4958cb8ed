"""A reasoning model's thinking: the `<think>...</think>` block it writes before its answer
(Qwen3, DeepSeek-R1, QwQ...). It is shown apart (collapsed and dimmed in the TUI, or not at all
with /think off) and kept out of later prompts, as those models' templates do.
"""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


def split_reasoning(text: str) -> tuple[str, str]:
    """(reasoning, answer) of a whole reply; the reasoning is "" when it has none. A block left
    open (the reply stopped while thinking) is all reasoning."""
    splitter = ReasoningSplitter()
    reasoning, answer = splitter.feed(text)
    rest_reasoning, rest_answer = splitter.finish()
    return reasoning + rest_reasoning, answer + rest_answer


def without_reasoning(text: str) -> str:
    """What a later prompt keeps of a reply: its answer."""
    return split_reasoning(text)[1]


class ReasoningSplitter:
    """Splits streamed reply text into reasoning and answer as it arrives. Only a block at the
    start counts (after blank space); a tag cut between two pieces is held until it is whole."""

    def __init__(self) -> None:
        self._state = "start"  # start -> thinking -> closed -> answer, or start -> answer
        self._held = ""

    def feed(self, text: str) -> tuple[str, str]:
        """(reasoning, answer) text that can be shown now."""
        text = self._held + text
        self._held = ""
        reasoning = ""
        if self._state == "start":
            stripped = text.lstrip()
            if stripped.startswith(OPEN):
                self._state = "thinking"
                text = stripped[len(OPEN) :]
            elif OPEN.startswith(stripped):  # "<thi": wait for the rest
                self._held = text
                return "", ""
            else:
                self._state = "answer"
        if self._state == "thinking":
            end = text.find(CLOSE)
            if end < 0:
                keep = _partial_tag(text)  # "...</thi" may be the closing tag, cut
                reasoning, self._held = text[: len(text) - keep], text[len(text) - keep :]
                return reasoning, ""
            reasoning, text = text[:end], text[end + len(CLOSE) :]
            self._state = "closed"
        if self._state == "closed":  # the blank lines between the thinking and the answer go
            text = text.lstrip("\n")
            if text:
                self._state = "answer"
        return reasoning, text

    def finish(self) -> tuple[str, str]:
        """What is held back when the reply ends."""
        held, self._held = self._held, ""
        return (held, "") if self._state == "thinking" else ("", held)


def _partial_tag(text: str) -> int:
    """How many characters at the end of `text` could begin the closing tag."""
    for size in range(min(len(CLOSE) - 1, len(text)), 0, -1):
        if CLOSE.startswith(text[-size:]):
            return size
    return 0
