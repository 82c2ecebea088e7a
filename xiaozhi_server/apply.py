"""Applying a stage to the upstream server: plan and gate, back up, write, bring the router up
(split stage), restart the server (it reads its config only at start), verify from its log and
its ports, and on failure put the backup back byte for byte and restart it again. The router
leaves after the server no longer names it. The lock, the questions and the decommission after
the cut-over are orchestration's (move.py); every step goes to the audit log."""
from __future__ import annotations

import os
import time

from adapters import compose, docker_api, http
from checks import gates as gating
from core import state
from core.config import Settings, Stage
from core.errors import MigrationError, Refused
from core.files import atomic_write
from deploy import backup
from deploy.apply import Outcome, point_compose_file, roll_back, run_gates, settled
from xiaozhi_server import plan as planning, render as rendering, stages
from xiaozhi_server.health import FAILED, RUNNING


def plan_and_gate(settings: Settings, target: Stage, client, force: bool, backward_ok: bool, out,
                  dry_run: bool) -> Outcome:
    world = planning.observe(settings, client)
    plan = planning.make(settings, world, target, force=force, allow_skip=backward_ok)
    out(planning.describe(plan, settings.api_key, settings))
    outcome = Outcome(plan)
    if plan.adoption.problems:
        raise Refused(f"the server in {settings.deploy_dir} cannot be migrated as it is", where=str(settings.deploy_dir),
                      detail="\n".join(plan.adoption.problems), hint="fix what is listed; nothing was changed")
    if settled(plan, target, force, out):
        return outcome
    forward = plan.recorded is None or target.number > plan.recorded
    names = gating.for_move(settings, target, forward) if forward else (["key"] if stages.holds_key(target.number) else [])
    if forward and target.number == stages.VALIDATE and "server-calls" not in names:
        names.append("server-calls")   # the calls the server will make, whatever the config lists
    outcome.gates = run_gates(settings, names, plan.recorded, (world.state or {}).get("since"), target, force, out)
    return outcome


def apply_plan(settings: Settings, target: Stage, outcome: Outcome, client, force: bool, out, extra) -> None:
    """``extra``: the target's health probes, run as part of the verification."""
    plan, d = outcome.plan, settings.deploy_dir
    old_state = state.read(d) or {}
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        saved = backup.save(d, settings.gates.keep_backups, label=f"to-{target.number}",
                            names=(*planning.FILES, state.STATE))
        state.write(d, **{**old_state, "pending": {"to": target.number, "started": started, "backup": saved.name}})
        state.audit(d, "apply-start", **{"from": plan.recorded, "to": target.number, "forced": force,
                                         "failed_gates": [g.name for g in outcome.gates if not g.passed],
                                         "backup": saved.name, "restart": plan.restart, "router": plan.router})
    except OSError as exc:
        raise MigrationError(f"cannot prepare the change: {exc.strerror or exc}", where=str(d),
                             hint="free space in the server's filesystem (`df -h`), then run again; nothing was "
                                  "changed") from None
    try:
        write(settings, plan)
        point_compose_file(d)
        away = converge(settings, client, target.number == stages.SPLIT, plan.restart, out, plan.local)
        problems = verify(settings, target, client, extra)
    except MigrationError as exc:
        problems, away = [exc.message], None
    except OSError as exc:
        problems, away = [f"writing the stage's files failed: {exc.strerror or exc}"], None
    if problems:
        _roll_back(settings, client, saved, old_state, plan, target, problems, out)
    same = plan.recorded == target.number and old_state.get("since")
    holds = stages.holds_key(target.number)
    theirs = old_state.get("config_mode") or (plan.config_mode[0] if plan.config_mode and holds else None)
    state.write(d, stage=target.number, since=old_state["since"] if same else time.time(), applied=time.time(),
                previous=old_state.get("previous") if same else plan.recorded, retargeted=plan.retargeted,
                config_mode=theirs if holds else None)
    state.audit(d, "applied", **{"from": plan.recorded, "to": target.number, "forced": force, "result": "ok",
                                 "server_away_s": away})
    again = planning.make(settings, planning.observe(settings, client), target, allow_skip=True)
    if again.changed_files or again.restart or again.router:
        raise MigrationError("applied, but the stage is still not converged",
                             detail=planning.describe(again, settings.api_key, settings),
                             hint="run the same command again; if it persists, look at `docker compose ps`")
    out(f"stage {target.number} ({target.name}) applied and verified"
        + (f"; the server was away {away:.1f} s (devices reconnect by themselves)" if away is not None else ""))


def write(settings: Settings, plan: planning.ServerPlan) -> None:
    """The stage's files; their config file keeps its owner and (tightened when it gets the key) its mode."""
    d = settings.deploy_dir
    for change in plan.changed_files:
        path = d / change.name
        if change.new is None:
            if path.exists():
                os.unlink(path)
            continue
        if change.name == rendering.CONFIG_FILE:   # theirs: its mode tightened (or given back), never forced
            mode = plan.config_mode[1] if plan.config_mode else None
        else:
            mode = 0o600 if change.name in rendering.SECRET_FILES else None
        atomic_write(path, change.new, mode)


def converge(settings: Settings, client, split: bool, restart: str, out, local: str = "",
             written: float | None = None) -> float | None:
    """The containers to the files: the local model's service (a way back from the cut-over) and
    the router (split) up before the server restarts onto them; the router removed only once the
    server no longer names it. Only these services: theirs are never recreated by a move. Returns
    how long the server was away."""
    xs = settings.xiaozhi_server
    up = [name for name in (local, xs.router_service if split else "") if name]
    if up:
        t = settings.gates.wait_timeout
        compose.run(compose.argv(settings.project, settings.deploy_dir) + [
            "up", "-d", "--wait", "--wait-timeout", str(t), "--no-deps", *up], timeout=t + 60)
    away = restart_server(settings, client, out, written) if restart else None
    if not split:
        for container in docker_api.project_containers(client, settings.project, xs.router_service):
            container.remove(force=True)
            out(f"removed the router's container {container.name}")
    return away


def restart_server(settings: Settings, client, out, written: float | None = None) -> float:
    """`docker restart` the server, then wait until it answers on 8000 again: the seconds between.
    A server still starting up is let finish first: it handles no SIGTERM yet, so a stop would
    wait the whole stop timeout with every device away. And one that its restart policy (upstream's
    compose says `restart: always`) started again after ``written``, when the files it must read
    were put back, is not restarted at all."""
    xs = settings.xiaozhi_server
    container = docker_api.container_or_none(client, xs.container)
    if container is None:
        raise MigrationError(f"the server's container {xs.container} does not exist", where="docker ps -a",
                             hint="start the server (`docker compose up -d`) and run again")
    _settle(container, xs.http_url, xs.restart_timeout)
    start, s = time.time(), container.attrs["State"]
    if written is not None and _running(s) and (planning.epoch(s.get("StartedAt")) or 0) > written:
        out(f"{xs.container} was started again on these files by its restart policy; waiting for it to answer")
    else:
        out(f"restarting {xs.container} (its websocket clients reconnect by themselves)")
        container.restart(timeout=10)
        container.reload()
    since = planning.log_begins(container.attrs["State"]) or start   # not the lines of the run before
    while time.time() < start + xs.restart_timeout:
        if _answers(xs.http_url):
            return time.time() - start
        failed = _failure(container, since)
        if failed:  # it will not come up with this config: no need to wait for the bound
            raise MigrationError(f"{xs.container} did not start: {failed[:300]}", where=xs.container,
                                 hint=f"read `docker logs {xs.container}`")
        time.sleep(0.2)
    raise MigrationError(f"{xs.container} did not answer on {xs.http_url} within {xs.restart_timeout} s of its "
                         "restart", where=xs.container, hint=f"read `docker logs {xs.container}`")


def _settle(container, url: str, bound: float) -> None:
    """Wait while the server is starting up: running for less than ``bound`` seconds, neither
    answering nor having logged a failure. One running for longer that does not answer is hung,
    not starting: no wait for it."""
    while True:
        s = container.attrs["State"]
        started = planning.epoch(s.get("StartedAt")) or 0
        if (not _running(s) or time.time() > started + bound or _answers(url)
                or _failure(container, planning.log_begins(s))):
            return
        time.sleep(0.2)
        container.reload()


def _running(docker_state: dict) -> bool:
    return bool(docker_state.get("Running")) and not docker_state.get("Restarting")


def _answers(url: str) -> bool:
    try:
        return RUNNING in http.request("GET", url, timeout=2)[1]
    except http.HTTPError:
        return False


def _failure(container, since: float | None) -> str:
    """The last `初始化组件失败` line the server logged since ``since``, or ''."""
    if since is None:
        return ""
    lines = [line.strip() for line in container.logs(since=since).decode(errors="replace").splitlines()
             if FAILED in line]
    return lines[-1] if lines else ""


def verify(settings: Settings, target: Stage, client, extra) -> list[str]:
    """The server initialised the stage's entry and answers; the router is healthy (split); the
    target's health checks find nothing CRITICAL. A server still starting (a real one loads its
    models) gets up to ``restart_timeout``; a failure in its log ends the wait at once."""
    from checks.model import Status
    from checks.run import run
    xs = settings.xiaozhi_server
    deadline = time.time() + xs.restart_timeout
    while True:
        report = run(settings, target, extra=extra)
        critical = [f"health {r.name}: {r.actual}" for r in report.results if r.status is Status.CRITICAL]
        waiting = [r for r in report.results if r.name in ("server.llm", "router") and r.status is not Status.OK]
        failed = any(r.name == "server.llm" and r.status is Status.CRITICAL for r in report.results)
        if (not critical and not waiting) or failed or time.time() > deadline:
            return critical + [f"health {r.name}: {r.actual}" for r in waiting if r.status is not Status.CRITICAL]
        time.sleep(1)


def _roll_back(settings, client, saved, old_state, plan, target, problems, out) -> None:
    before = settings.stages.get(old_state.get("stage"))
    local = plan.local if before is not None and before.local_llm else ""
    roll_back(settings.deploy_dir, saved, planning.FILES, old_state, plan.recorded, target, problems, out,
              reapply=lambda: converge(settings, client, old_state.get("stage") == stages.SPLIT, "rolling back",
                                       out, local, written=time.time()))
