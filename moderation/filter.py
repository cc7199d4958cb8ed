"""The moderation filter: score text with a backend, apply thresholds and policies, and fail
closed (by default) when the backend raises or hangs."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections import deque
from collections.abc import Callable

from moderation.backends import Backend, OfflineBackend
from moderation.config import DEFAULT_THRESHOLDS, ModerationConfig
from moderation.sentences import clauses, split_sentences
from moderation.verdict import SEVERITY, Category, Verdict
from moderation.visible import visible_text

# A clause of a long sentence (read too, so that abuse cannot hide in a long polite sentence)
# counts only where it scores this high: read without the rest of its sentence, ordinary clauses
# score higher than they should ("If you touch that live wire it will kill you, so ..."). Chosen
# on the dev halves: at 0.95 or lower, ordinary sentences and the model's everyday replies were
# removed that are not when read whole; at 0.97 none, and abuse hidden in a clause still is.
CLAUSE_FLOOR = 0.97


def make_backend(config: ModerationConfig) -> Backend:
    """The configured backend. `auto` takes Detoxify when its weights are here, else the
    contextual backend when its encoder is prepared, else the offline word model."""
    if config.backend in ("detoxify", "auto"):
        from moderation.detox import DetoxifyBackend, weights_available  # torch: only when used

        if config.backend == "detoxify" or weights_available(config.detoxify):
            return DetoxifyBackend(config.detoxify)
    if config.backend in ("contextual", "auto"):
        from moderation import encoder
        from moderation.contextual import ContextualBackend  # llama.cpp: only when used

        if config.backend == "contextual" or encoder.find() is not None:
            return ContextualBackend()
    return OfflineBackend()


class Moderator:
    def __init__(self, config: ModerationConfig, backend_factory: Callable[[ModerationConfig], Backend] = make_backend):
        self.config = config
        self.enabled = config.enabled
        self._factory = backend_factory
        self._backend: Backend | None = None
        self._backend_error: str | None = None
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="moderation")
        self.recent: deque[Verdict] = deque(maxlen=10)  # flagged and failed verdicts, for /moderation
        self.last: Verdict | None = None  # the latest verdict, whatever it decided
        self.note = ""  # a plain word about the backend, e.g. why Detoxify is not the one in use

    @property
    def backend_name(self) -> str:
        return self._backend.name if self._backend else f"{self.config.backend} (not loaded yet)"

    def load_in_background(self) -> None:
        """Start loading the backend beside other work (the model's loading); `load`, and the first
        check, wait for it."""
        if self.enabled:
            threading.Thread(target=self.load, name="moderation-load", daemon=True).start()

    @property
    def load_error(self) -> str | None:
        """Why the backend could not be loaded (after `load`), or None."""
        return self._backend_error

    def load(self) -> None:
        """Load the backend now (it is otherwise loaded on first use); errors are kept, not raised."""
        with self._lock:
            if self._backend is None and self._backend_error is None:
                try:
                    self._backend = self._factory(self.config)
                except Exception as err:  # reported in every verdict; fail closed/open decides
                    self._backend_error = f"{type(err).__name__}: {err}"
                if self.config.backend == "auto" and self._backend is not None and self._backend.name == "offline":
                    self.note = (
                        "the contextual moderation is not prepared, so a word-list classifier moderates: it "
                        "misses abuse without swear words and flags ordinary words (run: parley moderation prepare)"
                    )

    def check(self, text: str) -> Verdict:
        """Score `text` as written and as it renders (per sentence, and a long sentence per clause
        too, keeping each category's maximum) and decide."""
        if not self.enabled:
            return Verdict(decision="allow", scores={}, flagged=(), backend="off", latency_s=0.0)
        self.load()
        start = time.perf_counter()
        try:
            if self._backend is None:
                raise RuntimeError(self._backend_error)
            # What a reader sees once the Markdown renders counts too ("f<b></b>uck" shows as one word).
            seen = visible_text(text)
            views = [text] if seen == text else [text, seen]
            sentences = [s for view in views for s in split_sentences(view) if s.strip()] or [text]
            whole = len(sentences)  # those after are clauses
            sentences += [clause for s in sentences for clause in clauses(s)]
            future = self._pool.submit(self._backend.score, sentences)
            per_sentence = future.result(timeout=self.config.timeout_s)
        except concurrent.futures.TimeoutError:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="moderation")  # drop the hung one
            return self.failed(f"timed out after {self.config.timeout_s:g}s", start)
        except Exception as err:
            return self.failed(str(err) or type(err).__name__, start)
        scores: dict[Category, float] = {}
        for i, sentence_scores in enumerate(per_sentence):
            for category, value in sentence_scores.items():
                if i >= whole and value < CLAUSE_FLOOR:
                    continue
                scores[category] = max(value, scores.get(category, 0.0))
        return self.decide(scores, self.backend_name, start)

    def decide(
        self, scores: dict[Category, float], backend: str, start: float, labels: tuple[str, ...] = ()
    ) -> Verdict:
        """The verdict on `scores` (from `backend`, asked at `start`): every category over its
        threshold is flagged, and the worst policy among them decides."""
        policy = self.config.policy_for
        flagged = sorted(
            (c for c, v in scores.items() if v >= self.config.threshold(c)),
            key=lambda c: (-SEVERITY[policy(c)], -scores[c]),
        )
        verdict = Verdict(
            decision=policy(flagged[0]) if flagged else "allow", scores=scores, flagged=tuple(flagged),
            backend=backend, latency_s=time.perf_counter() - start, labels=labels,
        )  # fmt: skip
        self.last = verdict
        if flagged:
            self.recent.append(verdict)
        return verdict

    def failed(self, error: str, start: float, backend: str | None = None) -> Verdict:
        """The verdict when a backend failed: fail closed blocks, fail open allows."""
        verdict = Verdict(
            decision="block" if self.config.fail == "closed" else "allow", scores={}, flagged=(),
            backend=backend or self.backend_name, latency_s=time.perf_counter() - start, error=error,
        )  # fmt: skip
        self.last = verdict
        self.recent.append(verdict)
        return verdict

    def describe(self, model: str = "") -> str:
        """What /moderation shows; `model` describes the moderation model, if one is set up."""
        lines = [
            f"moderation: {'on' if self.enabled else 'OFF: replies are shown unchecked'}",
            f"backend: {self.backend_name}" + (f" (failed: {self._backend_error})" if self._backend_error else ""),
            *([self.note] if self.note else []),
            *([f"moderation model: {model}"] if model else []),
            f"on failure: fail {self.config.fail}; timeout {self.config.timeout_s:g}s; input checked: "
            f"{'yes' if self.config.moderate_input else 'no'}",
            "category          threshold  policy",
        ]
        for category in DEFAULT_THRESHOLDS:
            lines.append(f"{category:<17} {self.config.threshold(category):>9.2f}  {self.config.policy_for(category)}")
        if self.recent:
            lines.append("recent verdicts that flagged or failed:")
            lines += [f"  {v.decision:<6} {v.backend}: {v.scores_text()}" for v in self.recent]
        if self.last is not None:
            lines.append(f"last check ({self.last.backend}, {self.last.decision}), every score:")
            lines.append(
                "  " + (", ".join(f"{c} {s:.2f}" for c, s in self.last.scores.items()) or self.last.error or "-")
            )
        return "\n".join(lines)
