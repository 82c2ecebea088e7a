"""Health statuses and results, shared by probes, judges, reports and the phase gates."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum


class Status(IntEnum):
    """Monitoring-plugin codes; ``severity`` orders them for the worst-of."""
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def severity(self) -> int:
        # A check that could not tell is worse than a warning, better than a known failure.
        return {0: 0, 1: 1, 3: 2, 2: 3}[int(self)]

    @property
    def mark(self) -> str:
        return {0: "✅", 1: "⚠️", 2: "❌", 3: "❔"}[int(self)]


def worst(statuses) -> Status:
    return max(statuses, key=lambda s: s.severity, default=Status.OK)


@dataclass
class Result:
    name: str
    status: Status
    expected: str
    actual: str
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.name
        return data
