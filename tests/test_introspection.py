"""/probs on the real embedded model: the distribution after each sampler stage equals a softmax
over llama.cpp's own logits (read through a second, independent context) with the same filters
written here from their definitions; at temperature 0 the reply's token is the top candidate."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from chat.config import ModelConfig
from chat.engine import Message, NextToken
from chat.llama_engine import LlamaEngine
from chat.sampling import Sampling
from tests.conftest import EMBEDDED_GGUF, ROOT, json_events

pytestmark = pytest.mark.integration

MESSAGES: list[Message] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Tell me a short joke about a cat."},
    {"role": "assistant", "content": ""},  # the reply, open: its tokens follow
]


@pytest.fixture(scope="module")
def engine() -> Iterator[LlamaEngine]:
    # The in-memory cache is what these tests look at: no prompt cache on disk under them.
    engine = LlamaEngine("smollm2", EMBEDDED_GGUF, ModelConfig(path=EMBEDDED_GGUF, n_ctx=2048, prompt_cache=False))
    yield engine
    engine.close()


def raw_logits(prompt: list[int], reply: list[int]) -> np.ndarray:
    """The logits after `prompt` and `reply`, from a context of their own (no cache shared with
    the engine), evaluated as generation does: the prompt at once, the reply a token at a time."""
    llm = llama_cpp.Llama(model_path=str(EMBEDDED_GGUF), n_ctx=2048, logits_all=True, verbose=False)
    try:
        llm.eval(prompt)
        for token in reply:
            llm.eval([token])
        return np.array(llm.scores[len(prompt) + len(reply) - 1], dtype=np.float64)
    finally:
        llm.close()


def expected(logits: np.ndarray, history: list[int], params: Sampling) -> dict[str, dict[int, float]]:
    """Each stage's distribution (token -> probability), from the samplers' definitions."""

    def dist(kept: dict[int, float]) -> dict[int, float]:
        values = np.array(list(kept.values()))
        p = np.exp(values - values.max())
        return dict(zip(kept, p / p.sum(), strict=True))

    scores = dict(enumerate(logits))
    out = {"logits": dist(scores)}
    penalty = params.repeat_penalty  # presence and frequency penalties are 0 here
    for token in set(history[-64:]):
        scores[token] = scores[token] / penalty if scores[token] > 0 else scores[token] * penalty
    out["penalties"] = dist(scores)
    best = sorted(scores, key=lambda t: -scores[t])
    scores = {t: scores[t] for t in best[: params.top_k]}
    out["top_k"] = dist(scores)
    p, total, kept = out["top_k"], 0.0, {}
    for token in sorted(p, key=lambda t: -p[t]):
        kept[token] = scores[token]
        total += p[token]
        if total >= params.top_p:
            break
    scores = kept
    out["top_p"] = dist(scores)
    p = out["top_p"]
    scores = {t: v for t, v in scores.items() if p[t] >= params.min_p * max(p.values())}
    out["min_p"] = dist(scores)
    out["temperature"] = dist({t: v / params.temperature for t, v in scores.items()})
    return out


@pytest.mark.parametrize("position", [0, 6])
def test_probs_match_a_softmax_over_llama_cpp_logits_with_the_same_filters(engine: LlamaEngine, position: int) -> None:
    params = Sampling(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05, repeat_penalty=1.3)
    reply = engine.text_tokens("Why did the cat sit on the cat's computer? To keep an eye on the mouse!")
    history = reply[:position]
    found = engine.next_token(MESSAGES, history, params, 10, written=reply[position])
    want = expected(raw_logits(engine.prompt_tokens(MESSAGES, open_last=True), history), history, params)
    assert [s.name for s in found.stages] == ["logits", "penalties", "top_k", "top_p", "min_p", "temperature"]
    for stage in found.stages:
        probabilities = want[stage.name]
        assert stage.kept == len(probabilities), stage.name
        ranked = sorted(probabilities, key=lambda t: -probabilities[t])[: len(stage.top)]
        assert [c.token for c in stage.top] == ranked, stage.name
        for candidate in stage.top:
            assert candidate.p == pytest.approx(probabilities[candidate.token], abs=2e-4), stage.name
    assert found.written is not None and found.written.p == pytest.approx(want["logits"][reply[position]], abs=2e-4)
    assert found.stages[1].top != found.stages[0].top or not history  # the penalty moved what the reply repeats


def test_at_temperature_zero_the_reply_s_token_is_the_top_candidate(engine: LlamaEngine) -> None:
    import threading

    from chat.engine import TextDelta

    greedy = Sampling(temperature=0.0, seed=1, max_tokens=12)
    asked = MESSAGES[:2]
    text = "".join(e.text for e in engine.stream(asked, greedy, threading.Event()) if isinstance(e, TextDelta))
    reply = engine.text_tokens(text)
    for position in (0, 1, 2):
        found: NextToken = engine.next_token(MESSAGES, reply[:position], greedy, 5, written=reply[position])
        assert [s.name for s in found.stages] == ["logits", "penalties", "greedy"]
        assert found.stages[-1].top[0].token == reply[position] == found.stages[1].top[0].token


def test_probs_in_a_headless_script_is_a_json_event_and_a_text_chart(tmp_path: Path) -> None:
    script = tmp_path / "probe.txt"
    script.write_text("Tell me a joke about cats.\n/probs 1\n/probs\n/explain top_k\n/probs 999\n", encoding="utf-8")

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "chat", "run", str(script), "--seed", "1", "--set",
                               "max_tokens=20", "--no-history", *extra], capture_output=True, text=True, cwd=ROOT,
                              timeout=300)  # fmt: skip

    as_json = run("--json")
    first, after = json_events(as_json.stdout, "probs")
    assert first["position"] == 1 and first["written"]["text"] and after["written"] is None
    assert [s["name"] for s in first["stages"]][:3] == ["logits", "penalties", "top_k"]
    assert abs(sum(c["p"] for c in first["stages"][0]["top"])) <= 1.0 + 1e-6
    failed = [e for e in json_events(as_json.stdout, "command") if e["command"] == "/probs 999"]
    assert failed and not failed[0]["ok"] and "a token of the last reply, from 1 to" in failed[0]["output"]
    as_text = run()
    assert "token 1 of the last reply" in as_text.stderr and "what generation draws from" in as_text.stderr
    assert "top_k = 40: keeps only the k likeliest tokens" in as_text.stderr
    assert "candidates before it, 40 after" in as_text.stderr  # /explain on the next token's numbers
    assert "Traceback" not in as_text.stderr and json.dumps(first)  # one line per error, never a traceback


def test_logprobs_are_the_raw_probabilities_generation_drew_from(engine: LlamaEngine) -> None:
    """Checked against a second context that evaluates the prompt at once and then the reply a
    token at a time, as generation does (llama.cpp's batched and one-token evaluations round
    differently, so the path matters)."""
    import threading

    from chat.engine import StreamEnd

    params = Sampling(temperature=0.8, seed=3, max_tokens=16)
    engine.forget_cache()  # the prompt evaluated whole, as below (a cached one re-evaluates its last token alone)
    events = list(engine.stream(MESSAGES[:2], params, threading.Event(), logprobs=True))
    end = events[-1]
    assert isinstance(end, StreamEnd) and len(end.logprobs) == end.completion_tokens > 3
    prompt = engine.prompt_tokens(MESSAGES[:2])
    llm = llama_cpp.Llama(model_path=str(EMBEDDED_GGUF), n_ctx=2048, logits_all=True, verbose=False)
    try:
        llm.eval(prompt)
        for position, scored in enumerate(end.logprobs):
            row = np.array(llm.scores[len(prompt) + position - 1], dtype=np.float64)
            expected_logprob = row[scored.token] - row.max() - np.log(np.exp(row - row.max()).sum())
            assert scored.logprob == pytest.approx(expected_logprob, abs=1e-4), position
            llm.eval([scored.token])
    finally:
        llm.close()
    assert "".join(t.text for t in end.logprobs) == "".join(getattr(e, "text", "") for e in events)
    # /probs at each position of that reply shows the very numbers generation drew from
    for position in (0, len(tokens := [t.token for t in end.logprobs]) - 1, 1, 0, 2):
        found = engine.next_token(MESSAGES, tokens[:position], params, 5, written=tokens[position])
        assert found.written is not None
        assert np.log(found.written.p) == pytest.approx(end.logprobs[position].logprob, abs=1e-6), position


def test_logprobs_headless_gives_them_with_the_perplexity() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chat", "ask", "--json", "--logprobs", "--seed", "2", "--set", "max_tokens=24",
         "--no-history", "Name a colour."], capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    (turn,) = json_events(result.stdout, "turn")
    logprobs = [t["logprob"] for t in turn["logprobs"]]
    assert len(logprobs) == turn["usage"]["completion_tokens"] and all(p <= 0 for p in logprobs)
    assert turn["perplexity"] == pytest.approx(np.exp(-np.mean(logprobs)))
    assert "".join(t["text"] for t in turn["logprobs"]) == turn["reply"]


def test_compare_with_the_same_settings_and_seed_gives_the_same_reply(tmp_path: Path) -> None:
    script = tmp_path / "compare.txt"
    script.write_text("Give me a name for a cat.\n/compare temp=0.9 temp=0.9 temp=0.9,seed=7\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "chat", "run", str(script), "--json", "--seed", "5", "--set",
                             "max_tokens=24", "--no-history"], capture_output=True, text=True, cwd=ROOT,
                            timeout=300)  # fmt: skip
    (compared,) = json_events(result.stdout, "compare")
    same, again, other = compared["replies"]
    assert same["reply"] == again["reply"] and same["params"] == again["params"]
    assert same["params"]["seed"] == 5 and other["params"]["seed"] == 7
    assert all(r["moderation"] is not None for r in compared["replies"])  # each reply was moderated


def test_generation_aside_leaves_probs_on_the_conversation_s_numbers(engine: LlamaEngine) -> None:
    """/compare generates from the same prompt; afterwards /probs still shows what the
    conversation's reply was drawn from (a user saw it drift by a few points)."""
    import threading

    from chat.engine import StreamEnd

    params = Sampling(temperature=0.8, seed=11, max_tokens=20)
    end = list(engine.stream(MESSAGES[:2], params, threading.Event(), logprobs=True))[-1]
    assert isinstance(end, StreamEnd)
    tokens = [t.token for t in end.logprobs]
    with engine.aside():
        for other in (Sampling(temperature=0.2, seed=11, max_tokens=40), Sampling(temperature=1.2, seed=11)):
            list(engine.stream(MESSAGES[:2], other.model_copy(update={"max_tokens": 40}), threading.Event()))
    for position in (0, 5, len(tokens) - 1):
        found = engine.next_token(MESSAGES, tokens[:position], params, 5, written=tokens[position])
        assert found.written is not None and found.position == position + 1
        assert np.log(found.written.p) == pytest.approx(end.logprobs[position].logprob, abs=1e-6), position


def test_a_reply_looked_into_continues_as_it_would_have(engine: LlamaEngine) -> None:
    """/probs cuts the cache back and puts it back; /continue after it (whose prompt is exactly
    what the cache holds) must not sample from the lookup's logits."""
    import threading

    from chat.engine import StreamEnd, TextDelta

    asked: list[Message] = [{"role": "user", "content": "Count from one to twenty in words."}]
    short = Sampling(temperature=0.0, seed=1, max_tokens=12)
    first = list(engine.stream(asked, short, threading.Event(), logprobs=True))
    end = first[-1]
    assert isinstance(end, StreamEnd)
    cut = "".join(e.text for e in first if isinstance(e, TextDelta))
    tokens = [t.token for t in end.logprobs]
    for position in (len(tokens), 3, 7):  # after the reply (the cache then holds all of it), then inside it
        engine.next_token([*asked, {"role": "assistant", "content": ""}], tokens[:position], short, 5)
    more = list(engine.stream([*asked, {"role": "assistant", "content": cut}], short, threading.Event(),
                              continue_reply=True))  # fmt: skip
    assert isinstance(more[-1], StreamEnd) and more[-1].evaluated_prompt_tokens <= 3  # the cache was put back
    whole = list(engine.stream(asked, Sampling(temperature=0.0, seed=1, max_tokens=24), threading.Event()))
    assert cut + "".join(e.text for e in more if isinstance(e, TextDelta)) == "".join(
        e.text for e in whole if isinstance(e, TextDelta)
    )
