"""The compose-env target's steps of a stage move: plan and gate; then, through the engine
(engine/move.py: back up, pending, roll back, record, re-plan), write its files atomically,
`compose up -d --wait`, and verify. The move as a whole (the lock, the questions, the
decommission after stage 3) is orchestration/move.py."""
from __future__ import annotations

from adapters import compose
from checks import judge
from checks import gates as gating
from core import composefile
from core.config import Settings, Stage
from core.errors import MigrationError, Refused
from core.services import WEIGHTS_SERVICE
from core.files import read_text, write_files
from targets.compose_env import health, merged, plan as planning, replace
from targets.compose_env.render import FILES, SECRET_FILES, render
from engine import move as engine
from engine.move import Outcome, run_gates, settled
from engine.changes import FileChange, Restart
from checks.model import Status
from checks.run import run
from targets.compose_env.render import fingerprints


def plan_and_gate(settings: Settings, target: Stage, client, force: bool, backward_ok: bool, out) -> Outcome:
    """Observe, render, plan, show the plan and run the gates; raise when the move is refused."""
    world = planning.observe(settings, client)
    wanted = render(settings, target, base=world.base)
    plan = planning.make(settings, world, target, wanted, force=force, allow_skip=backward_ok)
    if not plan.adoption.problems and not plan.nothing_to_do:
        plan.model_diff, changed, model = merged.compare(settings, wanted, bool(plan.base_changed))
        if plan.base_changed:  # Compose recreates what their change to the base touches
            plan.recreate = sorted(set(plan.recreate) | changed)
        llm = settings.compose_names[WEIGHTS_SERVICE]
        if llm in plan.recreate and llm in plan.running:
            health = world.containers[llm].health
            plan.replacing[llm] = replace.why_not(model, llm) or (
                f"it is {health} now, so a second one could not be waited for beside it"
                if health not in ("", "healthy") else "")
            if not plan.replacing[llm] and (warning := replace.unguarded(model, llm, health)):
                plan.replace_warnings[llm] = warning
    out(planning.describe(plan, settings.api_key, settings.stop_grace_s))
    outcome = Outcome(plan)
    if plan.adoption.problems:
        raise Refused(f"{compose.BASE_FILE} in {settings.deploy_dir} cannot be adopted as it is",
                      where=str(settings.deploy_dir / compose.BASE_FILE), detail="\n".join(plan.adoption.problems),
                      hint="fix what is listed (in your file or in config); nothing was changed")
    if settled(plan, target, force, out):
        return outcome
    forward = plan.recorded is None or target.number > plan.recorded
    since = (world.state or {}).get("since")
    outcome.gates = run_gates(settings, gating.for_move(settings, target, forward), plan.recorded, since, target,
                              force, out)
    return outcome


class Steps:
    """The compose-env target's steps of a move (engine.move.Steps): its files, `compose up`, its
    fingerprints, environment and health."""

    def __init__(self, settings: Settings, target: Stage, client):
        self.settings, self.target, self.client = settings, target, client
        self.wanted: dict[str, str] = {}

    def changes(self, plan) -> tuple:
        return tuple(FileChange(name) for name in FILES) + tuple(Restart(s, "recreate") for s in plan.recreate)

    def audit(self, plan) -> dict:
        return {"recreate": plan.recreate}

    def write(self, plan) -> None:
        self.wanted = {c.name: c.new for c in plan.files}
        write_files(self.settings.deploy_dir, self.wanted, SECRET_FILES)
        compose.point_compose_file(self.settings.deploy_dir)

    def converge(self, plan, out) -> None:
        prints = fingerprints(self.wanted)
        for service in _started_first(plan):
            replace.start_first(self.settings, self.client, service, prints.get(service, ""),
                                grace_timeout(self.settings), out)
        _up(self.settings)

    def verify(self) -> list[str]:
        return verify(self.settings, self.target, self.wanted, self.client)

    def reapply(self, old_state: dict, plan, out) -> None:
        """The files put back: a service the move replaced start-first is replaced back the same
        way (a container carrying the restored files' fingerprint is kept)."""
        files = planning.read_files(self.settings)
        prints = fingerprints(files) if None not in files.values() else {}
        for service in _started_first(plan) if prints else ():   # no files before (adoption): Compose's way
            try:
                replace.start_first(self.settings, self.client, service, prints.get(service, ""),
                                    grace_timeout(self.settings), out)
            except MigrationError as exc:   # the files are back: Compose recreates it on them, stop-first
                out(f"  {service}: going back start-first failed, recreating it instead: {exc.what}")
        _up(self.settings)

    def applied(self, away) -> dict:
        return {}

    def recorded(self, plan, old_state: dict) -> dict:
        return {"base_sha256": merged.record_applied_base(self.settings)}

    def replan(self):
        return planning.make(self.settings, planning.observe(self.settings, self.client), self.target,
                             self.wanted, allow_skip=True)

    def unconverged(self, plan) -> bool:
        return bool(plan.changed_files or plan.recreate)

    def describe(self, plan) -> str:
        return planning.describe(plan, self.settings.api_key)

    def done(self, away) -> str:
        return f"stage {self.target.number} ({self.target.name}) applied and verified"


def apply_plan(settings: Settings, target: Stage, outcome: Outcome, client, force: bool, out) -> None:
    """Back up, write, `compose up`, verify; roll back by itself when verification fails (the engine)."""
    engine.apply(settings, target, outcome, Steps(settings, target, client), force, out)


def _started_first(plan) -> list[str]:
    return [service for service, why in sorted(plan.replacing.items()) if not why]


def _up(settings: Settings) -> None:
    # No --remove-orphans: at stage 3 xiaozhi-local-llm leaves compose but is decommissioned
    # by its own careful step, never as a side effect of this one.
    t, grace = settings.gates.wait_timeout, grace_timeout(settings)
    compose.run(compose.argv(settings.project, settings.deploy_dir)
                + ["up", "-d", "--wait", "--wait-timeout", str(t), "--timeout", str(grace)], timeout=t + grace + 60)


def grace_timeout(settings: Settings) -> int:
    """What `compose up --timeout` gives a container it stops: the plan's grace, or the longest of
    their own stop_grace_periods when longer (the flag overrides each container's own; without it,
    a container created before the override had one would get Compose's 10 s)."""
    theirs = composefile.grace_periods(read_text(settings.deploy_dir / compose.BASE_FILE)).values()
    return int(max([settings.stop_grace_s, *(g for g in theirs if g is not None)]) + 0.999)


def verify(settings: Settings, target: Stage, wanted: dict[str, str], client) -> list[str]:
    """What is wrong with the running stack at ``target``: fingerprints, environment, health."""
    world = planning.observe(settings, client)
    problems = []
    for service, fp in fingerprints(wanted).items():
        got = world.containers.get(service)
        if got is None or got.state != "running":
            problems.append(f"{service} is not running")
        elif got.fingerprint != fp:
            problems.append(f"{service} runs an older configuration")
    problems += judge.drift_of(target, world.envs)
    report = run(settings, target, extra=health.EXTRA)
    problems += [f"health {r.name}: {r.actual}" for r in report.results if r.status is Status.CRITICAL]
    return problems
