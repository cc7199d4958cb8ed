"""The next-token distribution as each stage of llama.cpp's sampler chain leaves it (/probs).

The stages are llama.cpp's own samplers, applied one at a time to a copy of the model's logits
in the order llama-cpp-python chains them for generation: repetition penalties, then either
greedy choice (temperature 0) or top-k, top-p, min-p and temperature (then the random draw,
which is not shown). So what /probs shows is what generation does, to the model's own numbers
(the engine hands over the logits generation drew from: `LlamaEngine.next_token`).
llama-cpp-python feeds the penalties only the tokens generated in the reply (the last 64), not
the prompt: the same history is given here.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence

import llama_cpp
import numpy as np

from chat.engine import Candidate, Stage
from chat.sampling import Sampling

PENALTY_WINDOW = 64  # llama-cpp-python's last_n_tokens_size: the tokens the penalties look at
_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits.astype(np.float64) - np.max(logits))
    return np.asarray(shifted / shifted.sum())


def logprob(logits: np.ndarray, token: int) -> float:
    """The natural log of `token`'s probability in a softmax over `logits`."""
    top = float(np.max(logits))
    return float(logits[token]) - top - float(np.log(np.exp(logits.astype(np.float64) - top).sum()))


def stages(
    logits: np.ndarray, history: Sequence[int], params: Sampling, top: int, text: Callable[[int], str]
) -> tuple[Stage, ...]:
    """The distribution from `logits` (one per vocabulary token) after each stage: its top
    `top` candidates (`text` names a token) and how many tokens it keeps."""
    data = np.zeros(len(logits), dtype=_TOKEN_DATA)
    data["id"] = np.arange(len(logits), dtype=np.intc)
    data["logit"] = logits
    array = llama_cpp.llama_token_data_array(
        data=data.ctypes.data_as(llama_cpp.llama_token_data_p), size=len(logits), selected=-1, sorted=False
    )
    chain = [("penalties", _penalty_setting(params),
              llama_cpp.llama_sampler_init_penalties(len(logits), PENALTY_WINDOW, params.repeat_penalty,
                                                     params.frequency_penalty, params.presence_penalty))]  # fmt: skip
    if params.temperature == 0.0:
        chain.append(("greedy", "temperature 0: always the likeliest", llama_cpp.llama_sampler_init_greedy()))
    else:
        chain += [
            ("top_k", f"top_k {params.top_k}" + (" (off)" if params.top_k <= 0 else ""),
             llama_cpp.llama_sampler_init_top_k(params.top_k)),
            ("top_p", f"top_p {params.top_p:g}" + (" (off)" if params.top_p >= 1.0 else ""),
             llama_cpp.llama_sampler_init_top_p(params.top_p, 1)),
            ("min_p", f"min_p {params.min_p:g}" + (" (off)" if params.min_p <= 0.0 else ""),
             llama_cpp.llama_sampler_init_min_p(params.min_p, 1)),
            ("temperature", f"temperature {params.temperature:g}",
             llama_cpp.llama_sampler_init_temp(params.temperature)),
        ]  # fmt: skip
    found = [_snapshot("logits", "the model's raw scores", array, top, text)]
    for name, setting, sampler in chain:
        try:
            if name == "penalties":
                for token in history[-PENALTY_WINDOW:]:
                    llama_cpp.llama_sampler_accept(sampler, token)
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
        finally:
            llama_cpp.llama_sampler_free(sampler)
        found.append(_snapshot(name, setting, array, top, text))
    return tuple(found)


def _penalty_setting(params: Sampling) -> str:
    # Over the reply's last PENALTY_WINDOW tokens (/explain repeat_penalty says so).
    return (f"repeat {params.repeat_penalty:g} · presence {params.presence_penalty:g} · "
            f"frequency {params.frequency_penalty:g}")  # fmt: skip


def _snapshot(name: str, setting: str, array: llama_cpp.llama_token_data_array, top: int,
              text: Callable[[int], str]) -> Stage:  # fmt: skip
    """The candidates left in `array` (a sampler may have reordered or cut it), as a stage."""
    if array.selected >= 0:  # greedy chose one: that is the distribution now
        chosen = int(array.data[array.selected].id)
        return Stage(name, setting, 1, (Candidate(chosen, text(chosen), 1.0),))
    left = np.ctypeslib.as_array(ctypes.cast(array.data, ctypes.POINTER(ctypes.c_byte)),
                                 shape=(array.size * _TOKEN_DATA.itemsize,)).view(_TOKEN_DATA)  # fmt: skip
    probabilities = softmax(left["logit"])
    order = np.argsort(-probabilities, kind="stable")[:top]
    best = tuple(Candidate(int(left["id"][i]), text(int(left["id"][i])), float(probabilities[i])) for i in order)
    return Stage(name, setting, int(array.size), best)
