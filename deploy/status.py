"""`invoke status`: where the stack stands, read-only."""
from __future__ import annotations

import time

from checks import judge
from deploy import plan as planning
from deploy.render import render
from adapters import docker_api
from core import state
from core.config import Settings
from core.errors import DockerError


def report(settings: Settings) -> str:
    recorded = state.read(settings.deploy_dir) or {}
    number = recorded.get("stage")
    lines = []
    if number is None:
        lines.append(f"stage: unknown (no state file in {settings.deploy_dir}); judging against stage "
                     f"{min(settings.stages)}")
        number = min(settings.stages)
    else:
        since, applied = recorded.get("since"), recorded.get("applied")
        lines.append(f"stage: {number} ({settings.stage(number).name}) since {_when(since)}"
                     + (f", last applied {_when(applied)}" if applied and applied != since else ""))
    stage = settings.stage(number)
    lines.append(f"weights: {stage.weights}; local LLM {'in compose' if stage.local_llm else 'out of compose'}")
    if recorded.get("pending"):
        p = recorded["pending"]
        lines.append(f"PENDING: a run to stage {p.get('to')} started {p.get('started')} did not finish: "
                     f"run `invoke phase --stage {p.get('to')}` to converge")
    wanted = render(settings, stage)
    for name, text in wanted.items():
        on_disk = (settings.deploy_dir / name)
        same = on_disk.exists() and on_disk.read_text() == text
        lines.append(f"file {name}: {'matches stage ' + str(number) if same else 'DIFFERS from stage ' + str(number)}")
    try:
        world = planning.observe(settings, docker_api.client())
        drift = judge.drift_of(stage, {name: c["env"] for name, c in world.containers.items()})
        lines.append("containers: " + ("match the stage" if not drift else "DRIFT: " + "; ".join(drift)))
        local = world.local_container
        lines.append(f"{settings.local_llm.container}: " + (local["state"] if local else "absent"))
    except DockerError as exc:
        lines.append(f"containers: unknown ({exc.what})")
    tail = state.audit_tail(settings.deploy_dir, 5)
    lines.append("last audit entries:" if tail else "audit log: empty")
    for entry in tail:
        lines.append(f"  {entry['time']} {entry['who']} {_event(entry)}")
    return "\n".join(lines)


def _when(epoch) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else "?"


def _event(entry: dict) -> str:
    """An audit entry in words: stage moves with their real numbers, other events by their fields."""
    words = [entry["event"]]
    if "to" in entry:
        words.append(f"stage {entry['from'] if entry.get('from') is not None else '?'} -> {entry['to']}")
    elif entry.get("path"):
        words.append(str(entry["path"]))
    elif entry.get("name"):
        words.append(str(entry["name"]))
    if entry.get("forced"):
        words.append("FORCED")
    if entry.get("result"):
        words.append(str(entry["result"]))
    return " ".join(words)
