"""The upstream server's steps of a stage move: plan and gate; then, through the engine
(engine/move.py: back up, pending, roll back byte for byte, record, re-plan), write, bring the
router up (split stage), restart the server (it reads its config only at start) and verify from
its log and its ports. The router leaves after the server no longer names it. The lock, the
questions and the decommission after the cut-over are orchestration's (move.py)."""
from __future__ import annotations

import os
import time

from adapters import compose, docker_api, dockerd, http
from checks import gates as gating
from core.config import Settings, Stage
from core.errors import MigrationError, Refused
from core.files import atomic_write
from engine import move as engine
from engine.move import Outcome, run_gates, settled
from targets.xiaozhi_server import plan as planning, render as rendering, stages
from targets.xiaozhi_server.health import FAILED, RUNNING
from targets.xiaozhi_server.settings import own
from engine.changes import FileChange, Restart
from checks.model import Status
from checks.run import run


def plan_and_gate(settings: Settings, target: Stage, client, force: bool, backward_ok: bool, out) -> Outcome:
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


class Steps:
    """The xiaozhi-server target's steps of a move (engine.move.Steps): its files (their config
    file's mode kept or tightened), the router and the local model's service, a server restart,
    and verification from the server's log, its ports and the target's health."""

    def __init__(self, settings: Settings, target: Stage, client, extra, force: bool = False, out=print):
        self.settings, self.target, self.client, self.extra = settings, target, client, extra
        self.force, self.out, self.quiet_until = force, out, None

    def changes(self, plan) -> tuple:
        server, router = own(self.settings).container, own(self.settings).router_service
        return (tuple(FileChange(name) for name in planning.FILES) + ((Restart(server),) if plan.restart else ())
                + ((Restart(router, plan.router),) if plan.router else ()))

    def audit(self, plan) -> dict:
        return {"restart": plan.restart, "router": plan.router}

    def write(self, plan) -> None:
        if plan.restart:   # devices mid-conversation would lose their turn: wait for quiet before anything changes
            began = time.time()
            self.quiet_until = began + self.settings.gates.quiet_wait
            left = wait_quiet(self.settings, self.client, self.quiet_until, self.out)
            if not left and time.time() - began >= 0.5:
                self.out(f"no conversation open after {time.time() - began:.1f} s of waiting")
            if left and not self.force:
                raise Refused(f"{left} conversation(s) still open after {self.settings.gates.quiet_wait} s: the server "
                              "was not restarted and nothing was changed", where=own(self.settings).container,
                              hint="run again when the devices are idle, give more time (--quiet-wait S), or --force "
                                   "(their turn is lost; devices reconnect at the next wake word)")
            if left:
                self.out(f"--force: restarting with {left} conversation(s) open (audited)")
        write(self.settings, plan)
        compose.point_compose_file(self.settings.deploy_dir)

    def converge(self, plan, out) -> float | None:
        return converge(self.settings, self.client, self.target.number == stages.SPLIT, plan.restart, out, plan.local,
                        quiet_until=self.quiet_until)

    def verify(self) -> list[str]:
        return verify(self.settings, self.target, self.client, self.extra)

    def reapply(self, old_state: dict, plan, out) -> None:
        before = self.settings.stages.get(old_state.get("stage"))
        local = plan.local if before is not None and before.local_llm else ""
        converge(self.settings, self.client, old_state.get("stage") == stages.SPLIT, "rolling back", out, local,
                 written=time.time())

    def applied(self, away) -> dict:
        return {"server_away_s": away}

    def recorded(self, plan, old_state: dict) -> dict:
        holds = stages.holds_key(self.target.number)
        theirs = old_state.get("config_mode") or (plan.config_mode[0] if plan.config_mode and holds else None)
        return {"retargeted": plan.retargeted, "config_mode": theirs if holds else None}

    def replan(self):
        return planning.make(self.settings, planning.observe(self.settings, self.client), self.target, allow_skip=True)

    def unconverged(self, plan) -> bool:
        return bool(plan.changed_files or plan.restart or plan.router)

    def describe(self, plan) -> str:
        return planning.describe(plan, self.settings.api_key, self.settings)

    def done(self, away) -> str:
        return (f"stage {self.target.number} ({self.target.name}) applied and verified"
                + (f"; the server was away {away:.1f} s (a device connects again at its next wake word)"
                   if away is not None else ""))


def apply_plan(settings: Settings, target: Stage, outcome: Outcome, client, force: bool, out, extra) -> None:
    """``extra``: the target's health probes, run as part of the verification (the engine does the rest)."""
    engine.apply(settings, target, outcome, Steps(settings, target, client, extra, force, out), force, out)


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
             written: float | None = None, quiet_until: float | None = None) -> float | None:
    """The containers to the files: the local model's service (a way back from the cut-over) and
    the router (split) up before the server restarts onto them; the router removed only once the
    server no longer names it. Only these services: theirs are never recreated by a move. Returns
    how long the server was away."""
    xs = own(settings)
    up = [name for name in (local, xs.router_service if split else "") if name]
    if up:
        t = settings.gates.wait_timeout
        compose.run(compose.argv(settings.project, settings.deploy_dir) + [
            "up", "-d", "--wait", "--wait-timeout", str(t), "--no-deps", *up], timeout=t + 60)
    away = restart_server(settings, client, out, written, quiet_until) if restart else None
    if not split:
        for attrs in docker_api.project_inspects(client, settings.project, xs.router_service):
            docker_api.remove(client, docker_api.name_of(attrs))
            out(f"removed the router's container {docker_api.name_of(attrs)}")
    return away


def wait_quiet(settings: Settings, client, until: float, out, interval: float = 0.5) -> int:
    """Wait until no conversation is open or ``until``; how many are still open. Says so every 10 s."""
    said = 0.0
    while True:
        left = planning.conversations(settings, client) or 0
        remaining = until - time.time()
        if not left or remaining <= 0:
            return left
        if time.time() - said >= 10:
            out(f"waiting for {left} conversation(s) to end, {remaining:.0f} s left")
            said = time.time()
        time.sleep(min(interval, remaining))


def restart_server(settings: Settings, client, out, written: float | None = None,
                   quiet_until: float | None = None) -> float:
    """`docker restart` the server, then wait until it answers on 8000 again: the seconds between.
    A server still starting up is let finish first: it handles no SIGTERM yet, so a stop would
    wait the whole stop timeout with every device away. And one that its restart policy (upstream's
    compose says `restart: always`) started again after ``written``, when the files it must read
    were put back, is not restarted at all."""
    xs = own(settings)
    name = xs.container
    if docker_api.container_state(client, name) is None:
        raise MigrationError(f"the server's container {name} does not exist", where="docker ps -a",
                             hint="start the server (`docker compose up -d`) and run again")
    _settle(client, name, xs.http_url, xs.restart_timeout)
    start, s = time.time(), docker_api.container_state(client, name)
    if written is not None and _running(s) and (docker_api.epoch(s.get("StartedAt")) or 0) > written:
        out(f"{name} was started again on these files by its restart policy; waiting for it to answer")
    else:
        if quiet_until is not None:   # one may have started since the files were written
            left = wait_quiet(settings, client, quiet_until, out)
            if left:
                out(f"restarting with {left} conversation(s) open: their turn is lost")
        out(f"restarting {name} (devices connect again at their next wake word)")
        docker_api.restart(client, name, timeout=10)
    since = planning.log_begins(docker_api.container_state(client, name)) or start   # not the run before's lines
    while time.time() < start + xs.restart_timeout:
        if _answers(xs.http_url):
            return time.time() - start
        failed = _failure(name, since)
        if failed:  # it will not come up with this config: no need to wait for the bound
            raise MigrationError(f"{name} did not start: {failed[:300]}", where=name,
                                 hint=f"read `docker logs {name}`")
        time.sleep(0.2)
    raise MigrationError(f"{name} did not answer on {xs.http_url} within {xs.restart_timeout} s of its "
                         "restart", where=name, hint=f"read `docker logs {name}`")


def _settle(client, name: str, url: str, bound: float) -> None:
    """Wait while the server is starting up: running for less than ``bound`` seconds, neither
    answering nor having logged a failure. One running for longer that does not answer is hung,
    not starting: no wait for it."""
    while True:
        s = docker_api.container_state(client, name)
        started = docker_api.epoch(s.get("StartedAt")) or 0
        if (not _running(s) or time.time() > started + bound or _answers(url)
                or _failure(name, planning.log_begins(s))):
            return
        time.sleep(0.2)


def _running(docker_state: dict) -> bool:
    return bool(docker_state.get("Running")) and not docker_state.get("Restarting")


def _answers(url: str) -> bool:
    try:
        return RUNNING in http.request("GET", url, timeout=2)[1]
    except http.HTTPError:
        return False


def _failure(name: str, since: float | None) -> str:
    """The last `初始化组件失败` line the server logged since ``since``, or ''."""
    if since is None:
        return ""
    lines = [line.strip() for line in (dockerd.read_logs(name, since) or "").splitlines() if FAILED in line]
    return lines[-1] if lines else ""


def verify(settings: Settings, target: Stage, client, extra) -> list[str]:
    """The server initialised the stage's entry and answers; the router is healthy (split); the
    target's health checks find nothing CRITICAL. A server still starting (a real one loads its
    models) gets up to ``restart_timeout``; a failure in its log ends the wait at once."""
    xs = own(settings)
    deadline = time.time() + xs.restart_timeout
    while True:
        report = run(settings, target, extra=extra)
        critical = [f"health {r.name}: {r.actual}" for r in report.results if r.status is Status.CRITICAL]
        waiting = [r for r in report.results if r.name in ("server.llm", "router") and r.status is not Status.OK]
        failed = any(r.name == "server.llm" and r.status is Status.CRITICAL for r in report.results)
        if (not critical and not waiting) or failed or time.time() > deadline:
            return critical + [f"health {r.name}: {r.actual}" for r in waiting if r.status is not Status.CRITICAL]
        time.sleep(1)
