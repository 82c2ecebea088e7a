"""What `invoke status` says the same way for every target: the stage recorded (or, with no state
file, the one it is judged against) and the last audit entries. Each target's status puts its own
lines between them (and ``changes.pending_line`` for a move stopped half-way)."""
from __future__ import annotations

from pathlib import Path

from core import state
from core.config import Settings


def stage_line(settings: Settings, recorded: dict, applied: bool = False) -> tuple[str, int]:
    """(the first line, the stage to judge against). ``applied``: also say when the stage's files
    were last put in place, when that differs from when the stage began (a drift repair)."""
    number = recorded.get("stage")
    if number is None:
        return (f"stage: unknown (no state file in {settings.deploy_dir}); judging against stage "
                f"{min(settings.stages)}"), min(settings.stages)
    since, last = recorded.get("since"), recorded.get("applied")
    return (f"stage: {number} ({settings.stage(number).name}) since {state.when(since)}"
            + (f", last applied {state.when(last)}" if applied and last and last != since else "")), number


def audit_lines(deploy_dir: Path, n: int = 5) -> list[str]:
    tail = state.audit_tail(deploy_dir, n)
    return ["last audit entries:" if tail else "audit log: empty"] + \
        [f"  {e['time']} {e['who']} {state.event(e)}" for e in tail]
