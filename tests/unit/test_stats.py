"""The one percentile rule (nearest rank), checked against its definition over 1-100 samples."""
import random

import pytest

from core.stats import percentile


def by_definition(values, p):
    """The smallest value with at least p% of the values at or below it, by counting."""
    ordered = sorted(values)
    return next(v for v in ordered if sum(1 for w in ordered if w <= v) * 100 >= p * len(ordered))


@pytest.mark.parametrize("p", [1, 5, 25, 50, 75, 90, 95, 99, 100])
def test_nearest_rank_over_1_to_100_samples(p):
    rng = random.Random(p)
    for n in range(1, 101):
        values = [rng.random() for _ in range(n)]  # distinct values: the rank alone decides
        assert percentile(values, p) == by_definition(values, p), (n, p)


@pytest.mark.parametrize("values, p, expected", [
    ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 95, 4), (list(range(1, 101)), 99, 99), (list(range(1, 101)), 50, 50),
    ([5], 99, 5), ([], 50, None), ([None, 3], 50, 3), (list(range(1, 20)), 95, 19), (list(range(1, 12)), 95, 11),
    ([3, 1, 2], 0, 1),
])
def test_percentile_table(values, p, expected):
    assert percentile(values, p) == expected


def test_the_validation_gate_uses_it(monkeypatch):
    """11-19 samples: the gate's own rounding once took the second-slowest as p95."""
    import yaml
    from checks import gates
    from core import config
    from ..conftest import ROOT
    settings = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={"QWEN_API_KEY": "sk-x-0123"})
    from checks.facts import Generation
    answers = [Generation(first_token_s=t / 1000) for t in range(100, 1100, 100)] + [Generation(first_token_s=5.0)]
    monkeypatch.setattr(gates.http, "run", lambda coro: (coro.close(), answers)[1])  # 11 samples
    result = gates.validation(settings)
    assert "p95 first token 5000 ms" in result.detail and not result.passed
