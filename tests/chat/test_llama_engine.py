"""The llama.cpp engine's choices that need no model: how many threads it decodes with."""

from __future__ import annotations

import os

from chat.llama_engine import cores_in, default_threads, physical_cores

HYPER_THREADED = "".join(
    f"processor\t: {cpu}\nphysical id\t: {cpu // 4}\ncore id\t\t: {cpu % 4 // 2}\n\n" for cpu in range(8)
)  # two sockets, two cores each, two threads per core


def test_threads_count_physical_cores_not_hyper_threads() -> None:
    assert cores_in(HYPER_THREADED) == 4
    assert cores_in("processor\t: 0\nmodel name\t: some ARM board\n") == 0  # unknown: the caller guesses
    assert 1 <= physical_cores() <= (os.cpu_count() or 1)
    assert default_threads() == max(1, physical_cores() - 1)  # one core left for moderation and Python
