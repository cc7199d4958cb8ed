"""A reasoning model's thinking: split from the answer as it streams, kept out of later prompts,
shown apart or not at all."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from chat.conversation import Reply, Turn
from chat.reasoning import ReasoningSplitter, split_reasoning
from chat.runner import Runner
from chat.sampling import Sampling
from chat.script import Step
from chat.session import Session

REPLY = "<think>The user wants a number. 2+2 is 4.</think>\n\nThe answer is **4**."


def test_the_thinking_is_split_from_the_answer() -> None:
    assert split_reasoning(REPLY) == ("The user wants a number. 2+2 is 4.", "The answer is **4**.")
    assert split_reasoning("No thinking here. <think>quoted</think>") == ("", "No thinking here. <think>quoted</think>")
    assert split_reasoning("<think>cut off while thinking") == ("cut off while thinking", "")


@given(st.lists(st.integers(min_value=0, max_value=len(REPLY)), max_size=8))
def test_streamed_in_any_pieces_it_splits_the_same(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(REPLY)]
    splitter = ReasoningSplitter()
    parts = [splitter.feed(REPLY[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)] + [splitter.finish()]
    assert ("".join(r for r, _ in parts), "".join(a for _, a in parts)) == split_reasoning(REPLY)


def test_later_prompts_keep_only_the_answer() -> None:
    reply = Reply(content=REPLY, model="m", params=Sampling(), finish_reason="stop", prompt_tokens=1,
                  completion_tokens=1, evaluated_prompt_tokens=1)  # fmt: skip
    assert Turn(user="2+2?", reply=reply).messages()[1] == {"role": "assistant", "content": "The answer is **4**."}


def test_headless_shows_the_thinking_dimmed_apart_or_not_at_all(session: Session) -> None:
    session.engine.enqueue(REPLY, REPLY)  # type: ignore[attr-defined]
    out, err = io.StringIO(), io.StringIO()
    runner = Runner(session, out=out, err=err)
    runner.run([Step("user", "2+2?", 1)])
    assert out.getvalue() == "The answer is **4**.\n" and "2+2 is 4." in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    Runner(session, out=out, err=err).run([Step("command", "/think off", 1), Step("user", "again", 2)])
    assert out.getvalue() == "The answer is **4**.\n" and "2+2 is 4." not in err.getvalue()
