"""`invoke status`: where the stack stands, read-only."""
from __future__ import annotations


from checks import judge
from targets.compose_env import plan as planning
from targets.compose_env.render import render
from adapters import docker_api
from core import state
from core.config import Settings, Stage
from core.errors import DockerError
from engine.changes import pending_line
from engine.status import audit_lines, stage_line


def report(settings: Settings) -> str:
    recorded = state.read(settings.deploy_dir) or {}
    line, number = stage_line(settings, recorded, applied=True)
    lines = [line]
    stage = settings.stage(number)
    lines.append(f"weights: {stage.weights}; local LLM {'in compose' if stage.local_llm else 'out of compose'}")
    if recorded.get("pending"):
        lines.append(pending_line(recorded["pending"]))
    lines += converge_lines(settings, stage)
    lines += audit_lines(settings.deploy_dir)
    return "\n".join(lines)


def converge_lines(settings: Settings, stage: Stage) -> list[str]:
    """Where the world stands against ``stage``, read from the same Plan that `phase --dry-run`
    shows and that verification re-makes after an apply: status never judges on its own."""
    try:
        world = planning.observe(settings, docker_api.client())
    except DockerError as exc:
        world, unreachable = planning.World(state=None, containers={}, local_container=None,
                                            **planning.read_world_files(settings)), exc.what
    else:
        unreachable = None
    wanted = render(settings, stage, base=world.base)
    plan = planning.make(settings, world, stage, wanted, allow_skip=True)
    lines = [f"file {c.name}: " + (f"DIFFERS from stage {stage.number}" if c.changed else f"matches stage {stage.number}")
             for c in plan.files]
    lines += [line.strip() for line in planning.folder_lines(plan)]
    if unreachable:
        return lines + [f"containers: unknown ({unreachable})"]
    drift = judge.drift_of(stage, world.envs)
    lines.append("containers: " + ("match the stage" if not drift and not plan.orphans else
                                   "DRIFT: " + "; ".join(drift) if drift else "match the stage, but see ORPHAN"))
    if plan.recreate:
        lines.append(f"to converge, `invoke phase --stage {stage.number}` would (re)create: " + ", ".join(plan.recreate))
    local = world.local_container
    lines.append(f"{settings.local_llm.container}: " + (local.state if local else "absent"))
    return lines
