"""`invoke status` for the upstream server, read-only: the stage, what its config selects, the
router, what `phase` would do to converge (the same plan), and the last audit entries."""
from __future__ import annotations

from core import state
from core.config import Settings
from core.errors import MigrationError
from core.state import when
from litellm_router import router
from targets.xiaozhi_server import plan as planning, render as rendering, stages
from targets.xiaozhi_server.settings import own
from engine.changes import pending_line
from engine.status import audit_lines, stage_line


def report(settings: Settings, client) -> str:
    recorded = state.read(settings.deploy_dir) or {}
    line, number = stage_line(settings, recorded)
    lines = [line]
    xs = own(settings)
    stage = settings.stage(number)
    world = planning.observe(settings, client)
    try:
        plan = planning.make(settings, world, stage, allow_skip=True)
    except MigrationError as exc:
        return "\n".join(lines + [f"{rendering.CONFIG_FILE}: cannot be read ({exc.message})"])
    lines.append(f"{rendering.CONFIG_FILE}: the stage selects {stages.selected_for(number, xs.local_entry)}"
                 + (f"; moved at cut-over: {', '.join(recorded['retargeted'])}" if recorded.get("retargeted") else ""))
    deployed = world.files.get(rendering.ROUTER_CONFIG)
    if deployed is not None:
        try:
            lines.append(f"router weights (deployed): {router.weights_of(deployed)}")
        except ValueError as exc:
            lines.append(f"router config: unreadable ({exc})")
    r = world.router
    lines.append(f"router {xs.router_service}: " + (f"{r.state}, {r.health or 'no healthcheck'}" if r else "absent"))
    s = world.server
    lines.append(f"{xs.container}: " + (f"{s.state} since {when(s.started)}" if s else "absent"))
    if recorded.get("pending"):
        lines.append(pending_line(recorded["pending"]))
    lines += [line.strip() for line in planning.describe(plan, settings.api_key, settings).splitlines()[1:]
              if not line.startswith("    ")]
    if plan.nothing_to_do:
        lines.append(f"matches stage {number}")
    lines += audit_lines(settings.deploy_dir)
    return "\n".join(lines)
