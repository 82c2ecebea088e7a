"""A console deployment's steps of a stage move, through the engine (engine/move.py: back up the
rows' before-images, mark pending, roll back, record, re-plan): write the rows in one transaction,
compare-and-swap, then delete manager-api's cache of the changed model configs; restart nothing
(the local model's service is started on a way back from the cut-over); verify by asking
manager-api, exactly as the server does at a connection, for sampled devices' models, and by the
server's start time, which no move changes."""
from __future__ import annotations

import hashlib
import json
import time

from adapters import compose, docker_api, http, mysql
from checks import gates as gating
from core.config import Settings, Stage
from core.errors import DatabaseError, GateFailed, MigrationError, Refused
from core.files import atomic_write
from engine import move as engine
from engine.changes import FileChange, Restart
from engine.move import Outcome, run_gates, settled
from targets.xiaozhi_console import plan as planning, routing, tables as t
from targets.xiaozhi_console.settings import own

USER_AGENT = "PythonClient/2.0"   # what the server's manage_api_client sends (with its PID)


def plan_and_gate(settings: Settings, target: Stage, client, force: bool, backward_ok: bool, out) -> Outcome:
    world = planning.observe(settings, client)
    plan = planning.make(settings, world, target, settings.api_key, force=force, allow_skip=backward_ok)
    out(planning.describe(plan, settings))
    outcome = Outcome(plan)
    if plan.problems:
        raise Refused(f"the console deployment in {settings.deploy_dir} cannot be migrated as it is",
                      where=str(settings.deploy_dir), detail="\n".join(plan.problems),
                      hint="fix what is listed; nothing was changed")
    if settled(plan, target, force, out):
        return outcome
    forward = plan.recorded is None or target.number > plan.recorded
    names = gating.for_move(settings, target, forward) if forward else (["key"] if target.number >= 1 else [])
    if forward and target.number == planning.VALIDATE and "server-calls" not in names:
        names.append("server-calls")   # what upstream's server sends the API, whatever the config lists
    outcome.gates = run_gates(settings, names, plan.recorded, (world.state or {}).get("since"), target, force, out)
    if forward:   # the verification asks manager-api the server's way: it must answer before anything changes
        outcome.gates.append(_manager_gate(settings, world, out, force))
    return outcome


def _manager_gate(settings: Settings, world, out, force: bool):
    """Before the API model is added: manager-api answers a device's models the server's way."""
    found = ask_samples(settings, world.access.secret, sample(world.tables, own(settings).sample_devices, None))
    bad = [f"{mac}: {problem}" for mac, (_, problem) in found.items() if problem]
    passed = bool(found) and not bad
    gate = gating.GateResult("manager-api", passed, f"{len(found) - len(bad)} of {len(found)} sampled devices "
                                                     "answered by manager-api" + (f" ({'; '.join(bad[:3])})" if bad else ""))
    out(f"  gate {gate.name}: {'passed' if gate.passed else 'FAILED'}: {gate.detail}")
    if not passed and not force:
        raise GateFailed("gate manager-api failed", where=own(settings).manager_url, detail=gate.detail,
                         hint="check manager-api and the server secret in data/.config.yaml (`invoke health`)")
    return gate


def sample(tables, n: int, agents, refs=()) -> list[tuple[str, str]]:
    """Up to ``n`` devices (mac, agent) of the given agents (None: any), by a stable hash of the
    mac, one per agent first so that the sample spans the agents, and first the agents whose
    intent or memory config is one of ``refs`` (the rows whose cached copy a move must refresh)."""
    if tables is None:
        return []

    def uses_ref(agent: str) -> bool:
        row = tables.agents.get(agent) or {}
        return row.get("intent_model_id") in refs or row.get("mem_model_id") in refs
    devices = sorted((d for d in tables.devices if agents is None or d[1] in agents),
                     key=lambda d: (not uses_ref(d[1]), hashlib.sha256(d[0].encode()).hexdigest()))
    first, seen = [], set()
    for mac, agent in devices:
        if agent not in seen:
            seen.add(agent)
            first.append((mac, agent))
    rest = [d for d in devices if d not in first]
    return (first + rest)[:n]


def ask(settings: Settings, secret: str, endpoint: str, body=None) -> dict:
    """One call to manager-api as the server makes it: Bearer secret, JSON; the body's data, or an
    error naming the body's code (manager-api answers errors with HTTP 200)."""
    cs = own(settings)
    url = cs.manager_url.rstrip("/") + endpoint
    status, text = http.request("POST", url, timeout=10, json=body,
                                headers={"Authorization": "Bearer " + secret, "Accept": "application/json",
                                         "User-Agent": USER_AGENT})
    try:
        answer = json.loads(text)
    except ValueError:
        raise MigrationError(f"manager-api answered HTTP {status} with no JSON", where=url) from None
    if status != 200 or not isinstance(answer, dict) or answer.get("code") != 0:
        code = answer.get("code") if isinstance(answer, dict) else None
        msg = str(answer.get("msg") if isinstance(answer, dict) else "")[:120]
        raise MigrationError(f"manager-api answered code {code} ({msg})" if code is not None else
                             f"manager-api answered HTTP {status}", where=url,
                             hint="401: the server secret in data/.config.yaml is not manager-api's" if code == 401 else "")
    return answer.get("data") or {}


def ask_samples(settings: Settings, secret: str, devices) -> dict:
    """mac -> (the device's models as manager-api answers the server, or None; the problem or '')."""
    found = {}
    try:
        selected = ask(settings, secret, "/config/server-base").get("selected_module") or {}
    except (MigrationError, http.HTTPError) as exc:
        return {mac: (None, f"server-base: {exc.what}") for mac, _ in devices}
    for mac, _ in devices:
        try:
            found[mac] = (ask(settings, secret, "/config/agent-models",
                              {"macAddress": mac, "clientId": mac, "selectedModule": selected}), "")
        except (MigrationError, http.HTTPError) as exc:
            found[mac] = (None, exc.what)
    return found


def check_answer(settings: Settings, plan, agent: str, data: dict) -> list[str]:
    """What is wrong with a device's models against the stage the plan moved to."""
    cs, problems = own(settings), []
    want = plan.expected.get(agent)
    selected = (data.get("selected_module") or {}).get("LLM")
    llms = data.get("LLM") or {}
    if want and selected != want:
        problems.append(f"its agent {agent} runs {selected}, the stage wants {want}")
    for kind in ("Intent", "Memory"):
        for rid, config in (data.get(kind) or {}).items():
            if rid in plan.refs and isinstance(config, dict) and config.get("llm") != plan.refs[rid]:
                problems.append(f"{rid} is answered naming llm {config.get('llm')}, the stage wants {plan.refs[rid]} "
                                "(manager-api answered from a stale cache)")
    slm = (data.get("selected_module") or {}).get("SLM")
    if plan.target.number >= planning.CUTOVER and cs.local_model in llms and slm != cs.local_model \
            and want != cs.local_model:
        problems.append(f"the answer still holds {cs.local_model}")
    routed = llms.get(cs.router_model)
    if routed is not None and routed.get("base_url") != cs.router_url:
        problems.append(f"{cs.router_model} is answered at {routed.get('base_url')}, not {cs.router_url} (a stale cache?)")
    api = llms.get(cs.api_model)
    if api is not None and (api.get("base_url") != settings.api.base_url or api.get("model_name") != settings.api.model
                            or (settings.api_key and api.get("api_key") != settings.api_key)):
        problems.append(f"{cs.api_model} is answered with model {api.get('model_name')} at {api.get('base_url')} "
                        f"(or another key), not {settings.api.model} at {settings.api.base_url} (a stale cache?)")
    return problems


class Steps:
    """The console target's steps of a move (engine.move.Steps)."""

    def __init__(self, settings: Settings, target: Stage, client, world=None):
        self.settings, self.target, self.client = settings, target, client
        self.world, self.plan, self.seen = world, None, []

    def _access(self):
        if self.world is None:
            self.world = planning.observe(self.settings, self.client)
        return self.world.access

    def changes(self, plan) -> tuple:
        return (tuple(FileChange(name) for name in routing.FILES) + tuple(plan.sets)
                + ((Restart(plan.local, "create"),) if plan.local else ())
                + ((Restart(own(self.settings).router_service, plan.router),) if plan.router else ()))

    def restore_rows(self, change) -> list:
        access = self._access()
        with mysql.connect(access.db) as session:
            left = t.restore(session, change)
        if change.table == t.MODELS:
            t.invalidate(access.cache, [change])
        return left

    def audit(self, plan) -> dict:
        return {"restart": "", "chosen": list(plan.chosen), "router": plan.router}

    def write(self, plan) -> None:
        """The rows compared first (a console edit refuses the move before anything changes), then
        the router's files and the router up and healthy (before any agent is pointed at it), then
        the rows in one transaction, then manager-api's cache of the changed model configs."""
        self.plan = plan
        access = self._access()
        if plan.sets and (plan.files or plan.router in ("create", "recreate") or plan.local):
            self._rows(access, plan, apply=False)
        if plan.local:   # a way back from the cut-over: the local model answers before an agent is put on it
            start_local(self.settings, plan.local, print)
        for name, _, text in plan.files:
            path = self.settings.deploy_dir / name
            if text is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, text, 0o600 if name in routing.SECRET_FILES else None)
        if plan.router in ("create", "recreate"):
            router_up(self.settings)
        if plan.sets:
            self._rows(access, plan)
        # Every model config the stage owns, changed now or not: a run stopped between its commit
        # and this delete left them cached as they were (manager-api keeps them 24 h).
        t.invalidate_ids(access.cache, owned_models(self.settings, plan))

    def _rows(self, access, plan, apply: bool = True) -> None:
        try:
            with mysql.connect(access.db) as session:
                t.write(session, plan.sets, where=access.db.where, apply=apply)
        except mysql.CommitUnknown as exc:   # it may have landed: verified, and rolled back compare-and-swap
            raise MigrationError(exc.what, where=exc.where, hint=exc.hint) from None
        except DatabaseError as exc:
            raise Refused(f"the rows could not be written: {exc.what}", where=exc.where,
                          hint=exc.hint + "; the transaction was rolled back, nothing was written") from None

    def converge(self, plan, out) -> float | None:
        if plan.router == "remove":
            router_down(self.settings, self.client, out)
        return None

    def verify(self) -> list[str]:
        problems, self.seen = check(self.settings, self.target, self.client, self.plan)
        return problems

    def reapply(self, old_state: dict, plan, out) -> None:
        """Nothing restarts (the rows are the running configuration); the router as the restored
        files have it: up where they hold it, else gone."""
        if (self.settings.deploy_dir / routing.OVERRIDE).exists():
            router_up(self.settings)
        else:
            router_down(self.settings, self.client, out)

    def applied(self, away) -> dict:
        return {"server_restarted": False}

    def recorded(self, plan, old_state: dict) -> dict:
        n = self.target.number
        chosen = (list(plan.chosen) if n == planning.SPLIT and own(self.settings).split == "agents" else
                  old_state.get("chosen") if n > planning.SPLIT else None)   # kept across 2 <-> 3
        return {"console": plan.baseline, "chosen": chosen}

    def replan(self):
        return planning.make(self.settings, planning.observe(self.settings, self.client), self.target,
                             self.settings.api_key, allow_skip=True)

    def unconverged(self, plan) -> bool:
        return bool(plan.sets or plan.local or plan.files or plan.router)

    def describe(self, plan) -> str:
        return planning.describe(plan, self.settings)

    def done(self, away) -> str:
        return (f"stage {self.target.number} ({self.target.name}) applied and verified; no restart: devices pick it "
                "up at their next conversation" + (f"\nmanager-api answered {len(self.seen)} sampled devices as the "
                                                   "stage wants: " + ", ".join(self.seen) if self.seen else ""))


def owned_models(settings: Settings, plan) -> list[str]:
    """The model configs a stage may change: the toolkit's two, the local one, the intent/memory
    configs and the default LLMs it moves."""
    cs, base = own(settings), plan.baseline
    return sorted({cs.api_model, cs.router_model, cs.local_model, *base.get("refs", {}), *base.get("defaults", [])})


def router_up(settings: Settings) -> None:
    """The router's service up and healthy (their file and the toolkit's override; no other service)."""
    t_ = settings.gates.wait_timeout
    compose.run(routing.argv(settings) + ["up", "-d", "--wait", "--wait-timeout", str(t_), "--no-deps",
                                          own(settings).router_service], timeout=t_ + 60)


def router_down(settings: Settings, client, out) -> None:
    for attrs in docker_api.project_inspects(client, settings.project, own(settings).router_service):
        docker_api.remove(client, docker_api.name_of(attrs))
        out(f"removed the router's container {docker_api.name_of(attrs)}")


def start_local(settings: Settings, service: str, out) -> None:
    """The local model's service of their compose file, started alone (a way back from the cut-over)."""
    d, t_ = settings.deploy_dir, settings.gates.wait_timeout
    argv = ["docker", "compose", "--project-name", settings.project, "--project-directory", str(d),
            "--file", str(d / compose.BASE_FILE)]
    compose.run(argv + ["up", "-d", "--wait", "--wait-timeout", str(t_), "--no-deps", service], timeout=t_ + 60)
    out(f"started the local model's service {service}")


def check(settings: Settings, target: Stage, client, plan=None) -> tuple[list[str], list[str]]:
    """Sampled devices answered by manager-api as the stage wants, and the server not restarted:
    the problems, and each sampled device with the LLM it was answered."""
    cs = own(settings)
    world = planning.observe(settings, client)
    plan = plan or planning.make(settings, world, target, settings.api_key, allow_skip=True)
    if plan.problems:
        return plan.problems, []
    problems = []
    before = plan.server_started
    if world.server is None or world.server.state != "running":
        problems.append(f"the server's container {cs.server_container} is not running")
    changed = {i for c in plan.sets if c.table == t.AGENTS for i in c.ids}
    devices = sample(world.tables, cs.sample_devices, changed, set(plan.refs)) if changed else []
    devices += [d for d in sample(world.tables, cs.sample_devices, set(plan.expected), set(plan.refs))
                if d not in devices][:max(0, cs.sample_devices - len(devices))]
    deadline = time.time() + cs.verify_timeout
    while True:
        found = ask_samples(settings, world.access.secret, devices)
        wrong = {mac: ([problem] if problem else check_answer(settings, plan, agent, found[mac][0]))
                 for mac, agent in devices for problem in [found[mac][1]]}
        wrong = {mac: p for mac, p in wrong.items() if p}
        if not wrong or time.time() > deadline:
            break
        time.sleep(1)
    problems += [f"device {mac}: {'; '.join(p)}" for mac, p in wrong.items()]
    if not devices:
        problems.append("no device of the moved agents to ask manager-api about (bind one in the console)")
    if routing.routes(settings, target) and (world.router is None or world.router[1] != "healthy"):
        problems.append(f"the router {cs.router_service} is not healthy ({world.router})")
    if before and world.server and world.server.started and abs(world.server.started - before) > 0.001:
        problems.append(f"the server's container {cs.server_container} restarted during the move")
    seen = [f"{mac} -> {((found.get(mac) or (None,))[0] or {}).get('selected_module', {}).get('LLM')}"
            for mac, _ in devices]
    return problems, seen


def apply_plan(settings: Settings, target: Stage, outcome: Outcome, client, force: bool, out) -> None:
    engine.apply(settings, target, outcome, Steps(settings, target, client), force, out)
