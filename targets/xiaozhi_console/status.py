"""`invoke status` for a console deployment, read-only: the stage, the agents on each model, the
server's container, what `phase` would change to converge (the same plan), and the audit."""
from __future__ import annotations

from collections import Counter

from core import state
from core.config import Settings
from core.state import event, when
from engine.changes import pending_line
from targets.xiaozhi_console import plan as planning
from targets.xiaozhi_console.settings import own


def report(settings: Settings, client) -> str:
    recorded = state.read(settings.deploy_dir) or {}
    number = recorded.get("stage")
    cs = own(settings)
    if number is None:
        lines = [f"stage: unknown (no state file in {settings.deploy_dir}); judging against stage "
                 f"{min(settings.stages)}"]
        number = min(settings.stages)
    else:
        lines = [f"stage: {number} ({settings.stage(number).name}) since {when(recorded.get('since'))}"]
    world = planning.observe(settings, client)
    plan = planning.make(settings, world, settings.stage(number), allow_skip=True)
    if world.tables is not None:
        counts = Counter(row["llm_model_id"] for row in world.tables.agents.values())
        lines.append("agents by LLM: " + ", ".join(f"{model} {n}" for model, n in counts.most_common()))
    if recorded.get("chosen"):
        lines.append(f"split: agents: {len(recorded['chosen'])} chosen at stage 2 (recorded)")
    s = world.server
    lines.append(f"{cs.server_container}: " + (f"{s.state} since {when(s.started)}" if s else "absent"))
    if recorded.get("pending"):
        lines.append(pending_line(recorded["pending"]))
    lines += [line.strip() for line in planning.describe(plan, settings).splitlines()[1:]]
    if plan.nothing_to_do:
        lines.append(f"matches stage {number}")
    tail = state.audit_tail(settings.deploy_dir, 5)
    lines.append("last audit entries:" if tail else "audit log: empty")
    lines += [f"  {e['time']} {e['who']} {event(e)}" for e in tail]
    return "\n".join(lines)
