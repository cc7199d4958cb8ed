from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chat.stops import StopScanner


def feed_all(scanner: StopScanner, chunks: list[str]) -> tuple[str, bool]:
    out = []
    for chunk in chunks:
        text, stopped = scanner.feed(chunk)
        out.append(text)
        if stopped:
            return "".join(out), True
    return "".join(out) + scanner.flush(), False


def test_stop_split_across_chunks_is_cut() -> None:
    assert feed_all(StopScanner(["<|im_end|>"]), ["Hello <|im", "_e", "nd|> more"]) == ("Hello ", True)


def test_partial_stop_is_held_then_released() -> None:
    scanner = StopScanner(["STOP"])
    assert scanner.feed("abc ST") == ("abc ", False)
    assert scanner.feed("x") == ("STx", False)


@given(st.text(alphabet="abS TOP", max_size=40), st.lists(st.integers(1, 5), max_size=20))
def test_any_chunking_gives_the_text_before_the_first_stop(text: str, sizes: list[int]) -> None:
    chunks, rest = [], text
    for size in sizes:
        chunks.append(rest[:size])
        rest = rest[size:]
    chunks.append(rest)
    expected = text.split("STOP")[0]
    assert feed_all(StopScanner(["STOP"]), chunks) == (expected, "STOP" in text)
