from collections import Counter

import pytest

from sandbox.llm_service import Picker, parse_weights


@pytest.mark.parametrize("text, expected", [
    ("qwen:70,local:30", {"qwen": 70, "local": 30}),
    ("qwen:100,local:0", {"qwen": 100, "local": 0}),
    (" local:30 , qwen:25 ", {"local": 30, "qwen": 25}),
])
def test_parse_weights(text, expected):
    assert parse_weights(text) == expected


@pytest.mark.parametrize("text, message", [
    ("qwen=70", "expected NAME:INT"),
    ("gpt:10,local:5", "expected NAME:INT"),
    ("qwen:x", "expected NAME:INT"),
    ("qwen:-1", "expected NAME:INT"),
    ("qwen:1,qwen:2", "twice"),
    ("qwen:0,local:0", "no provider"),
    ("", "no provider"),
])
def test_parse_weights_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_weights(text)


@pytest.mark.parametrize("weights", [
    {"qwen": 25, "local": 30}, {"qwen": 70, "local": 30}, {"qwen": 100, "local": 0}, {"qwen": 1, "local": 2},
])
def test_split_matches_weights_within_3_points_over_1000(weights):
    picker = Picker(weights)
    counts = Counter(picker.pick() for _ in range(1000))
    total = sum(weights.values())
    for name, weight in weights.items():
        assert abs(counts[name] / 1000 - weight / total) <= 0.03, (name, counts)


def test_weight_zero_never_gets_traffic():
    picker = Picker({"qwen": 100, "local": 0})
    assert {picker.pick() for _ in range(500)} == {"qwen"}


def test_split_is_interleaved_not_bursty():
    picker = Picker({"qwen": 70, "local": 30})
    first_ten = [picker.pick() for _ in range(10)]
    assert first_ten.count("local") == 3
