"""`invoke status` for a console deployment, read-only: the stage, the agents on each model, the
server's container, what `phase` would change to converge (the same plan), and the audit."""
from __future__ import annotations

from collections import Counter

from core import state
from core.config import Settings
from core.state import when
from engine.changes import pending_line
from engine.status import audit_lines, stage_line
from targets.xiaozhi_console import plan as planning
from targets.xiaozhi_console.settings import own


def report(settings: Settings, client) -> str:
    recorded = state.read(settings.deploy_dir) or {}
    line, number = stage_line(settings, recorded)
    lines = [line]
    cs = own(settings)
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
    lines += audit_lines(settings.deploy_dir)
    return "\n".join(lines)
