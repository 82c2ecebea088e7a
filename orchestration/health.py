"""`invoke health` for whichever target is configured: the target's own probes, then the shared
judgement, history, formats and exit code (checks/command.py)."""
from __future__ import annotations

from core.config import Settings


def health(settings: Settings, **options) -> tuple[str, int]:
    from checks import command
    from orchestration import targets
    return command.health(settings, probes=targets.load(settings).health, **options)
