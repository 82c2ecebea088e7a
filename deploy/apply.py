"""Applying a stage's files to the compose stack: plan and gate, back up, write atomically,
`compose up -d --wait`, verify, and on failure restore the backup and apply it again. The
move as a whole (the lock, the questions, the decommission after stage 3) is orchestration/move.py. Every step is written to the audit log; the
state file marks the change as pending until it is verified, so a crash is detected and the
next run converges."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from checks import judge
from checks import gates as gating
from deploy import adoption, backup, merged, plan as planning
from deploy.render import FILES, SECRET_FILES, render
from adapters import compose
from core import composefile, envfile, state
from core.config import Settings, Stage
from core.errors import ConfigError, GateFailed, MigrationError, Refused, VerifyFailed
from core.files import atomic_write, check_key_path, check_private_dir, read_text, write_files


@dataclass
class Outcome:
    plan: planning.Plan
    gates: list = field(default_factory=list)
    applied: bool = False
    deletes_bytes: int = 0     # model bytes the decommission that follows will delete for good


def preflight(settings: Settings, target: Stage, dry_run: bool, uses_api: bool | None = None,
              secret_files=SECRET_FILES) -> None:
    """Refuse, before any change, what cannot work. ``uses_api``: the stage needs the key (as the
    target reads the stage; by default its weights say). ``secret_files``: the target's files that
    hold a key (every folder on their path, and the backups folder, must be private)."""
    if (target.uses_api if uses_api is None else uses_api) and not settings.api_key:
        # Rendering without a key would blank the deployed one while the API still gets traffic.
        raise ConfigError(f"stage {target.number} sends traffic to the API and no key was found "
                          f"({settings.key_source})", where="QWEN_API_KEY / DASHSCOPE_API_KEY",
                          hint="export QWEN_API_KEY=... (or DASHSCOPE_API_KEY), or `sudo -E`, and run again; "
                               "nothing was changed")
    d = settings.deploy_dir
    if not d.is_dir():
        raise MigrationError("the deploy directory does not exist", where=str(d),
                             hint="create it, or set migrate.deploy_dir (in sandbox.yaml: run sandbox.up first)")
    for name in sorted(secret_files):
        check_key_path(d, name)
    check_private_dir(d / backup.ROOT, what=f"the backups folder ({backup.ROOT}/ in the deploy directory)")
    if not dry_run and not os.access(d, os.W_OK):
        raise MigrationError("the deploy directory is not writable", where=str(d),
                             hint="run as its owner or with sudo")


def plan_and_gate(settings: Settings, target: Stage, client, force: bool, backward_ok: bool, out,
                  dry_run: bool) -> Outcome:
    """Observe, render, plan, show the plan and run the gates; raise when the move is refused."""
    world = planning.observe(settings, client)
    wanted = render(settings, target, base=world.base)
    plan = planning.make(settings, world, target, wanted, force=force, allow_skip=backward_ok)
    if not plan.adoption.problems and not plan.nothing_to_do:
        plan.model_diff, changed = merged.compare(settings, wanted, bool(plan.base_changed))
        if plan.base_changed:  # Compose recreates what their change to the base touches
            plan.recreate = sorted(set(plan.recreate) | changed)
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


def settled(plan, target: Stage, force: bool, out) -> bool:
    """True when the stage is already in place (said so); raises Refused for a refusal not forced."""
    if plan.nothing_to_do:
        out(f"already at stage {target.number}, nothing to do")
        return True
    if plan.refusals and not force:
        raise Refused("; ".join(plan.refusals), where=f"stage {plan.recorded} -> {target.number}",
                      hint="move one stage at a time, or pass --force (the audit log records it)")
    return False


def run_gates(settings: Settings, names: list[str], recorded, since, target: Stage, force: bool, out) -> list:
    """The gates' results, each shown; raises GateFailed when one failed (unless forced)."""
    results = gating.run(settings, names, recorded, since)
    for g in results:
        out(f"  gate {g.name}: {'passed' if g.passed else 'FAILED'}: {g.detail}")
    failed = [g for g in results if not g.passed]
    if failed and not force:
        raise GateFailed(f"gate {', '.join(g.name for g in failed)} failed", where=f"stage {target.number}",
                         detail="\n".join(g.detail for g in failed),
                         hint="fix what the gate reports, or pass --force to override (audited)")
    if failed:
        out(f"  --force: proceeding past failed gate(s) {', '.join(g.name for g in failed)}")
    return results


def apply_plan(settings: Settings, target: Stage, outcome: Outcome, client, force: bool, out) -> None:
    """Back up, write, `compose up`, verify; roll back by itself when verification fails."""
    plan, d = outcome.plan, settings.deploy_dir
    old_state = state.read(d) or {}
    failed_gates = [g.name for g in outcome.gates if not g.passed]
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        saved = backup.save(d, settings.gates.keep_backups, label=f"to-{target.number}")
        state.write(d, **{**old_state, "pending": {"to": target.number, "started": started, "backup": saved.name}})
        state.audit(d, "apply-start", **{"from": plan.recorded, "to": target.number, "forced": force,
                                         "failed_gates": failed_gates, "backup": saved.name,
                                         "recreate": plan.recreate})
    except OSError as exc:
        raise MigrationError(f"cannot prepare the change: {_os_problem(exc)}", where=str(d),
                             hint="free space in the deploy directory's filesystem (`df -h`), then run again; "
                                  "the deployed files were not changed") from None
    wanted = {c.name: c.new for c in plan.files}
    try:
        write_files(settings.deploy_dir, wanted, SECRET_FILES)
        point_compose_file(d)
        _up(settings)
        problems = verify(settings, target, wanted, client)
    except MigrationError as exc:
        problems = [exc.message]
    except OSError as exc:  # a full disk, a read-only remount: the change is half made
        problems = [f"writing the stage's files failed: {_os_problem(exc)}"]
    if problems:
        _roll_back(settings, saved, old_state, plan, target, problems, out)
    # Re-applying the stage (a drift repair) keeps when it began: the stage-3 gate counts the
    # health records since then. ``applied`` says when its files were last put in place.
    same = plan.recorded == target.number and old_state.get("since")
    state.write(d, stage=target.number, since=old_state["since"] if same else time.time(), applied=time.time(),
                previous=old_state.get("previous") if same else plan.recorded,
                base_sha256=merged.record_applied_base(settings))
    state.audit(d, "applied", **{"from": plan.recorded, "to": target.number, "forced": force, "result": "ok"})
    again = planning.make(settings, planning.observe(settings, client), target, wanted, allow_skip=True)
    if again.changed_files or again.recreate:
        raise MigrationError("applied, but the stage is still not converged",
                             detail=planning.describe(again, settings.api_key),
                             hint="run the same command again; if it persists, look at `docker compose ps`")
    out(f"stage {target.number} ({target.name}) applied and verified")


def point_compose_file(deploy_dir: Path) -> None:
    """Set COMPOSE_FILE in the project's .env (Compose reads it from the project directory), so
    that the operator's own `docker compose ps/logs/up` merges the same two files. Only that line
    is written; the rest of their .env and its mode and owner are kept. A symlinked .env is
    left alone (nothing is written through a symlink); the plan says what line to add."""
    path = Path(deploy_dir) / adoption.DOTENV
    if path.is_symlink():  # never written through: the plan told them which line to add
        return
    text = read_text(path)
    new = envfile.set_variable(text or "", adoption.COMPOSE_FILE, compose.compose_file_value(deploy_dir))
    if new != text:
        atomic_write(path, new)   # an existing file keeps its mode and owner


def _os_problem(exc: OSError) -> str:
    return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")


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
    from checks.model import Status
    from checks.run import run
    from deploy.render import fingerprints
    world = planning.observe(settings, client)
    problems = []
    for service, fp in fingerprints(wanted).items():
        got = world.containers.get(service)
        if got is None or got["state"] != "running":
            problems.append(f"{service} is not running")
        elif got["fingerprint"] != fp:
            problems.append(f"{service} runs an older configuration")
    problems += judge.drift_of(target, world.envs)
    report = run(settings, target)
    problems += [f"health {r.name}: {r.actual}" for r in report.results if r.status is Status.CRITICAL]
    return problems


def _roll_back(settings, saved, old_state, plan, target, problems, out) -> None:
    roll_back(settings.deploy_dir, saved, FILES, old_state, plan.recorded, target, problems, out,
              reapply=lambda: _up(settings))


def roll_back(d: Path, saved: Path, names, old_state: dict, recorded, target: Stage, problems: list[str], out,
              reapply) -> None:
    """Put the backup's ``names`` back, ``reapply()`` them to the containers, restore the state
    and say so in the audit log, then raise VerifyFailed. Every step is attempted whatever the one
    before it did: a full disk must not stop the containers from being put back. What did not work
    is said, never swallowed."""
    failures = []
    out("the change failed:\n  " + "\n  ".join(problems) + f"\nrolling back to the files in {saved}")
    try:
        backup.restore(saved, d, names)
    except backup.RestoreFailed as exc:
        failures.append("restoring the files failed: " + exc.message.replace("\n", "; "))
    except OSError as exc:
        failures.append(f"restoring the files failed: {_os_problem(exc)}; copy them back from {saved} by hand")
    if not failures:
        try:
            reapply()
        except MigrationError as exc:
            failures.append(f"re-applying the backup failed too: {exc.message}")
    try:
        state.write(d, **{k: v for k, v in old_state.items() if k != "pending"})
        state.audit(d, "rolled-back", **{"from": recorded, "to": target.number, "result": "failed",
                                         "problems": problems, "rollback_failures": failures,
                                         "restored": not failures})
    except OSError as exc:
        failures.append(f"the state file and audit log could not be written: {_os_problem(exc)}")
    for failure in failures:
        out(failure)
    raise VerifyFailed(f"stage {target.number} failed and was rolled back"
                       + ("" if not failures else " only in part: " + "; ".join(failures)),
                       where=str(d), detail="\n".join(problems),
                       hint="read the problems above; `invoke status` shows where things stand")
