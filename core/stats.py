"""The one percentile rule of the toolkit (gates, health, bench, benchmarks): nearest rank."""
from __future__ import annotations

import math


def percentile(values, p: float) -> float | None:
    """The nearest-rank p-th percentile (p in 0..100): the smallest value with at least p% of the
    values at or below it. None for no values; None entries are ignored."""
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is not in 0..100")
    rank = math.ceil(round(p * len(ordered) / 100, 9))  # round: 0.95 * 20 must be 19, not 19.000000000000004
    return ordered[max(rank, 1) - 1]
