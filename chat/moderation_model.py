"""The moderation model, when `[moderation.llm]` names one: loaded like a chat model (a Hub model
is downloaded on first use, with a progress bar) and asked about each whole reply once the fast
sentence-level pass has shown it. `moderation.llm_verdicts` knows how each model is asked and
answers; the moderator's thresholds and policy turn its verdict into a decision.
"""

from __future__ import annotations

import threading
import time
from typing import cast

from chat.config import ModerationModelConfig
from chat.engine import Engine, Message, TextDelta
from chat.errors import ParleyError
from chat.sampling import Sampling
from moderation.filter import Moderator
from moderation.llm_verdicts import VerdictFormatError, parse, questions
from moderation.verdict import Category, Verdict


class ModerationModel:
    def __init__(self, config: ModerationModelConfig, engine: Engine, moderator: Moderator) -> None:
        self.config = config
        self.engine = engine
        self.moderator = moderator
        self.name = f"{config.format} model"

    def check(self, user: str, reply: str) -> Verdict:
        """The moderation model's verdict on `reply`, the answer to `user`. Whatever goes wrong,
        output that is no verdict included, is a failed verdict: fail closed blocks."""
        start = time.perf_counter()
        scores: dict[Category, float] = {}
        labels: list[str] = []
        try:
            for question in questions(self.config.format, user, reply):
                messages = cast(list[Message], question.messages)
                needed = self.engine.count_tokens(messages) + question.max_tokens
                if needed > self.engine.info.n_ctx:
                    raise ParleyError(f"the reply needs {needed} tokens, over its n_ctx = {self.engine.info.n_ctx}")
                greedy = Sampling(temperature=0.0, max_tokens=question.max_tokens, seed=0)
                events = self.engine.stream(messages, greedy, threading.Event())
                output = "".join(e.text for e in events if isinstance(e, TextDelta))
                verdict = parse(self.config.format, question, output)
                for category, score in verdict.scores.items():
                    scores[category] = max(score, scores.get(category, 0.0))
                labels += verdict.labels
        except (ParleyError, VerdictFormatError) as err:
            return self.moderator.failed(str(err), start, self.name)
        except Exception as err:  # noqa: BLE001 - a model that fails is a failed verdict, not a crash
            return self.moderator.failed(f"{type(err).__name__}: {err}", start, self.name)
        return self.moderator.decide(scores, self.name, start, tuple(labels))

    def close(self) -> None:
        self.engine.close()
