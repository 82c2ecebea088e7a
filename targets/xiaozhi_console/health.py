"""`invoke health` for a console deployment: what it adds to the shared checks (checks/run.py runs
them under one deadline with the API, port 11434, the model and the host). manager-api answers
the server's way (its secret), MySQL and Redis answer, the server answers on 8000, its four
containers run, and the rows say what the recorded stage says (drift): an agent on a model the
stage does not give it is a WARNING naming it; at the cut-over any reference left to the local
model (an agent created on it in the console, the template, an intent or memory config) is
CRITICAL, as the local model is gone."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from checks import judge as judge_checks
from checks.model import Result, Status
from checks.run import Extra
from core.config import Settings, Stage
from core.errors import DockerError, MigrationError
from core.files import read_text
from targets.xiaozhi_console import CONFIG_FILE, access as reaching
from targets.xiaozhi_console.settings import own

RUNNING = "Server is running"


@dataclass
class Console:
    engine: str = "ok"
    detail: str = ""
    states: dict = field(default_factory=dict)     # container -> state (None: absent)
    router: tuple | None = None  # the router's container: (state, health)
    manager: str = ""        # '' : answered; else why not
    db: str = ""
    cache: str = ""
    world: object = None     # plan.ConsoleWorld, for the drift
    seconds: float = 0.0


@dataclass
class Answer:
    body: str = field(default="", repr=False)
    error: str = ""
    seconds: float = 0.0


async def _get(url: str, timeout: float) -> Answer:
    from adapters import http
    try:
        async with http.client_for(url, timeout) as client:
            async with http.failures(f"asking {url}", url):
                r = await client.get(url)
        return Answer(r.text[:200])
    except http.HTTPError as exc:
        return Answer(error=f"{exc.kind}: {str(exc)[:150]}")


def _rows(settings: Settings, inspects: dict, facts: Console) -> None:
    # (the plan's world is built from what a move reads: the router's files and container too)
    """Blocking: the database, the cache and manager-api, as a move reads them."""
    from adapters import http, mysql, rediscache
    from core import state
    from targets.xiaozhi_console import apply, plan as planning, routing, tables
    found = reaching.discover(settings, inspects, read_text(settings.deploy_dir / CONFIG_FILE))
    rows, problem = None, ""
    if found.db is None:
        facts.db = problem = "; ".join(found.problems) or "no database address"
    else:
        try:
            with mysql.connect(found.db, timeout=3) as session:
                rows = tables.read(session)
        except MigrationError as exc:
            facts.db = problem = f"{exc.what} ({exc.where})"
    if found.cache is None:
        facts.cache = "no Redis address"
    else:
        try:
            rediscache.ping(found.cache, timeout=3)
        except MigrationError as exc:
            facts.cache = f"{exc.what} ({exc.where})"
    try:
        apply.ask(settings, found.secret, "/config/server-base")
    except (MigrationError, http.HTTPError) as exc:
        facts.manager = exc.what[:200]
    local = inspects.get(settings.local_llm.container)
    server = inspects.get(own(settings).server_container)
    facts.world = planning.ConsoleWorld(state.read(settings.deploy_dir), found, rows, problem,
                                        planning.Started(server["State"]["Status"], None) if server else None,
                                        local["State"]["Status"] if local else None,
                                        files={n: read_text(settings.deploy_dir / n) for n in routing.FILES},
                                        router=facts.router)


async def _console(settings: Settings, timeout: float) -> Console:
    from adapters import compose
    from adapters.dockerd import Engine
    facts = Console()
    names = (*reaching.containers(settings), settings.local_llm.container)
    try:
        async with Engine(timeout) as engine:
            inspects = {name: await engine.inspect(name) for name in names}
            routers = await engine.containers(compose.labels(settings.project, own(settings).router_service))
    except DockerError as exc:
        return Console("unreachable", exc.what)
    if routers:
        s = routers[0]["State"]
        facts.router = (s.get("Status"), (s.get("Health") or {}).get("Status"))
    facts.states = {name: (attrs or {}).get("State", {}).get("Status") for name, attrs in inspects.items()}
    await asyncio.get_running_loop().run_in_executor(None, _rows, settings, inspects, facts)
    return facts


def jobs(settings: Settings, stage: Stage, per: float) -> dict:
    cs = own(settings)
    return {"server.http": (_get(cs.http_url, per), Answer(error="timeout")),
            "console": (_console(settings, per), Console("timeout", "the checks did not finish in time"))}


def judge(settings: Settings, stage: Stage, facts: dict) -> list[Result]:
    cs = own(settings)
    http, console = facts["server.http"], facts["console"]
    stack = facts.get("stack")
    local = [] if stack is None else judge_checks.local_container(stage, stack, settings.local_llm.container)
    results = local + [Result("server.http", Status.OK if RUNNING in http.body else Status.CRITICAL, RUNNING,
                              http.body.strip()[:80] if http.body else f"no answer ({http.error})", seconds=http.seconds)]
    if console.engine != "ok":
        return results + [Result("console", Status.UNKNOWN, "manager-api, MySQL, Redis", console.detail)]
    for name in reaching.containers(settings):
        state = console.states.get(name)
        results.append(Result(f"container.{name}", Status.OK if state == "running" else Status.CRITICAL, "running",
                              state or "absent"))
    results += [
        Result("manager-api", Status.CRITICAL if console.manager else Status.OK, "answers the server's secret",
               console.manager or f"answered at {cs.manager_url}"),
        Result("mysql", Status.CRITICAL if console.db else Status.OK, "answers", console.db or "answered"),
        Result("redis", Status.CRITICAL if console.cache else Status.OK, "answers", console.cache or "answered")]
    r = console.router
    if stage.number == 2 and cs.split == "requests":
        results.append(Result("router", Status.OK if r and r[1] == "healthy" else Status.CRITICAL,
                              "healthy (/health/readiness)", f"{r[0]}, {r[1] or 'no healthcheck'}" if r else "absent"))
    elif r:
        results.append(Result("router", Status.WARNING, "absent", f"left over ({r[0]}): run `invoke phase --stage "
                                                                  f"{stage.number}`"))
    return results + [drift(settings, stage, console.world)]


def drift(settings: Settings, stage: Stage, world) -> Result:
    """The rows against the stage: what a move to it would still change, and what is left on the
    local model at the cut-over."""
    from targets.xiaozhi_console import plan as planning, tables
    expected = f"stage {stage.number}: the rows as the stage wants them"
    if world is None or world.tables is None or world.state is None:
        return Result("drift", Status.UNKNOWN, expected, "the rows or the state cannot be read")
    cs, tb = own(settings), world.tables
    plan = planning.make(settings, world, stage, allow_skip=True)
    if plan.problems:
        return Result("drift", Status.UNKNOWN, expected, "; ".join(plan.problems)[:300])
    if stage.number >= planning.CUTOVER:
        left = ([f"agent {row.get('agent_name')} ({aid})" for aid, row in tb.agents.items()
                 if row["llm_model_id"] == cs.local_model]
                + [f"template {tid}" for tid, row in tb.templates.items() if row["llm_model_id"] == cs.local_model]
                + [f"model config {mid}" for mid, row in tb.models.items() if tables.llm_of(row) == cs.local_model])
        if left:
            fix = (f"add them to migrate.xiaozhi_console.agents and run `invoke phase --stage {stage.number}`, or move "
                   "them in the console" if cs.agents else f"run `invoke phase --stage {stage.number}` to move them")
            return Result("drift", Status.CRITICAL, expected + f"; nothing on {cs.local_model}",
                          f"on the local model, which is gone: {', '.join(left)[:300]}: {fix}")
    found = plan.words + [n for n in plan.notes if "left alone" in n]
    return Result("drift", Status.WARNING if found else Status.OK, expected,
                  "; ".join(found)[:400] + (f": run `invoke phase --stage {stage.number}`" if plan.words else "")
                  if found else "matches")


EXTRA = Extra(jobs=jobs, judge=judge)
