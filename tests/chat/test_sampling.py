from __future__ import annotations

import pytest

from chat.errors import CommandError
from chat.sampling import Sampling


def test_with_value_parses_and_validates() -> None:
    params = Sampling().with_value("temperature", "0.2").with_value("top_k", "7").with_value("stop", "END, ###")
    assert params.temperature == 0.2
    assert params.top_k == 7
    assert params.stop == ("END", "###")
    assert params.with_value("seed", "none").seed is None
    assert params.with_value("seed", "42").seed == 42


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("temperature", "5", "temperature: expected a number from 0 to 2"),
        ("temperature", "hot", "temperature: expected a number from 0 to 2"),
        ("top_p", "-0.1", "top_p: expected a number from 0 to 1"),
        ("max_tokens", "0", "max_tokens: expected a number from 1"),
        ("temprature", "1", "unknown parameter 'temprature'; did you mean 'temperature'?"),
        ("foo", "1", "unknown parameter 'foo' (one of: temperature, top_p, top_k, min_p,"),
        ("seed", "-5", "seed: expected a number from 0 to 4294967295"),
    ],
)
def test_bad_values_raise_one_line_errors(name: str, raw: str, expected: str) -> None:
    params = Sampling()
    with pytest.raises(CommandError) as info:
        params.with_value(name, raw)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)
    assert params == Sampling()  # nothing changed


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValueError):
        Sampling.model_validate({"temperature": 0.1, "tempreature": 1})
