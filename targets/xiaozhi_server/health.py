"""`invoke health` for the upstream server: what it adds to the shared checks (checks/run.py runs
them under one deadline with the API, port 11434, the model and the host). Port 8000 answers
"Server is running", the OTA route on 8003 answers, the server's container runs and its log since
it started says it initialised the stage's entry and no module failed, the router is healthy at
the split stage (its healthcheck asks /health/readiness) and gone at the others, and the deployed
files say what the stage says (the selected entry, the router's weights)."""
from __future__ import annotations

from dataclasses import dataclass, field

from adapters import compose
from adapters.docker_api import epoch
from checks import judge as judge_checks
from checks.model import Result, Status
from checks.run import Extra
from core.config import Settings, Stage
from core.errors import DockerError, MigrationError
from core.files import read_text
from litellm_router import router
from targets.xiaozhi_server import render as rendering, stages
from targets.xiaozhi_server.facts import Seen
from targets.xiaozhi_server.settings import own

INITIALISED = "初始化组件: llm成功"   # upstream's log line once its LLM is set up, then the entry's name
FAILED = "初始化组件失败"               # ... and when a module could not be
RUNNING = "Server is running"           # what port 8000 answers a plain GET
LOG_WINDOW_S = 600                      # initialisation is logged within this long of the start


@dataclass
class Answer:
    url: str
    status: int | None = None
    body: str = ""
    error: str = ""
    seconds: float = 0.0


@dataclass
class Server:
    engine: str = "ok"               # ok, unreachable, timeout
    detail: str = ""
    container: Seen | None = None    # the server's
    initialised: list[str] = field(default_factory=list)   # entry names the log says were set up
    failures: list[str] = field(default_factory=list)      # the log's failure lines
    router: Seen | None = None       # the router's
    seconds: float = 0.0


@dataclass
class Files:
    selected: str | None = None
    weights: dict | None = None
    error: str = ""
    seconds: float = 0.0


async def _get(url: str, timeout: float) -> Answer:
    from adapters import http
    try:
        async with http.client_for(url, timeout) as client:
            async with http.failures(f"asking {url}", url):
                r = await client.get(url)
        return Answer(url, r.status_code, r.text[:200])
    except http.HTTPError as exc:
        return Answer(url, error=f"{exc.kind}: {str(exc)[:150]}")


async def _server(settings: Settings, timeout: float) -> Server:
    from adapters.dockerd import Engine
    from targets.xiaozhi_server.plan import log_begins
    xs = own(settings)
    facts = Server()
    try:
        async with Engine(timeout) as engine:
            attrs = await engine.inspect(xs.container)
            routers = await engine.containers(compose.labels(settings.project, xs.router_service))
            if attrs is not None:
                s = attrs["State"]
                facts.container = Seen(s.get("Status"), epoch(s.get("StartedAt")))
                since = log_begins(s)
                if since is not None:
                    log = await engine.logs(xs.container, since, since + LOG_WINDOW_S) or ""
                    facts.initialised = [line.split(INITIALISED, 1)[1].strip().split()[0]
                                         for line in log.splitlines() if INITIALISED in line
                                         and line.split(INITIALISED, 1)[1].strip()]
                    facts.failures = [line.strip()[:200] for line in log.splitlines() if FAILED in line]
    except DockerError as exc:
        return Server("unreachable", exc.what)
    if routers:
        s = routers[0]["State"]
        facts.router = Seen(s.get("Status"), health=(s.get("Health") or {}).get("Status"))
    return facts


async def _files(settings: Settings) -> Files:
    from targets.xiaozhi_server import server_config
    d, facts = settings.deploy_dir, Files()
    try:
        text = read_text(d / rendering.CONFIG_FILE)
        if text is None:
            return Files(error=f"{d / rendering.CONFIG_FILE} is missing")
        facts.selected = server_config.selected_llm(server_config.load(text))
        deployed = read_text(d / rendering.ROUTER_CONFIG)
        facts.weights = router.weights_of(deployed) if deployed is not None else None
    except (OSError, ValueError) as exc:
        facts.error = str(exc)[:200]
    except MigrationError as exc:  # the loader's: the file cannot be read as the server would
        facts.error = exc.message[:200]
    return facts


def jobs(settings: Settings, stage: Stage, per: float) -> dict:
    xs = own(settings)
    return {"server.http": (_get(xs.http_url, per), Answer(xs.http_url, error="timeout")),
            "server.ota": (_get(xs.ota_url, per), Answer(xs.ota_url, error="timeout")),
            "server": (_server(settings, per), Server("timeout", "the Docker engine did not answer in time")),
            "server.files": (_files(settings), Files(error="timeout"))}


def judge(settings: Settings, stage: Stage, facts: dict) -> list[Result]:
    xs = own(settings)
    want = stages.selected_for(stage.number, xs.local_entry)
    http, ota, server, files = facts["server.http"], facts["server.ota"], facts["server"], facts["server.files"]
    # The local model's container (none to judge for an Ollama on the host: its API is judged).
    stack = facts.get("stack")
    local = ([] if settings.local_llm.on_host or stack is None else
             judge_checks.local_container(stage, stack, settings.local_llm.container))
    results = local + [
        Result("server.http", Status.OK if RUNNING in http.body else Status.CRITICAL, RUNNING,
               http.body.strip()[:80] if http.status else f"no answer ({http.error})", seconds=http.seconds),
        Result("server.ota", Status.OK if ota.status == 200 else Status.CRITICAL, "200",
               str(ota.status) if ota.status else f"no answer ({ota.error})", seconds=ota.seconds)]
    if server.engine != "ok":
        return results + [Result(f"container.{xs.container}", Status.UNKNOWN, "running", server.detail)]
    c = server.container
    results.append(Result(f"container.{xs.container}", Status.OK if c and c.state == "running" else Status.CRITICAL,
                          "running", c.state if c else "absent", seconds=server.seconds))
    if server.failures:
        llm = Result("server.llm", Status.CRITICAL, f"{INITIALISED} {want}", server.failures[-1])
    elif not server.initialised:
        llm = Result("server.llm", Status.WARNING if c else Status.CRITICAL, f"{INITIALISED} {want}",
                     "not logged since it started" if c else "no container")
    elif server.initialised[-1] != want:
        llm = Result("server.llm", Status.WARNING, f"{INITIALISED} {want}",
                     f"it runs {server.initialised[-1]}: restart it to read its config (`invoke phase --stage "
                     f"{stage.number}` does)")
    else:
        llm = Result("server.llm", Status.OK, f"{INITIALISED} {want}", f"initialised {want}")
    results.append(llm)
    r = server.router
    if stage.number == stages.SPLIT:
        results.append(Result("router", Status.OK if r and r.health == "healthy" else Status.CRITICAL,
                              "healthy (/health/readiness)", f"{r.state}, {r.health or 'no healthcheck'}"
                              if r else "absent"))
    elif r:
        results.append(Result("router", Status.WARNING, "absent", f"left over ({r.state}): run `invoke phase "
                                                                  f"--stage {stage.number}`"))
    results.append(_drift(stage, files, want))
    return results


def _drift(stage: Stage, files: Files, want: str) -> Result:
    expected = f"stage {stage.number}: selects {want}"
    if files.error:
        return Result("drift", Status.UNKNOWN, expected, files.error)
    found = []
    if files.selected != want:
        found.append(f"selected_module.LLM={files.selected} (want {want})")
    weights = {"local": stage.local_weight, "qwen": stage.qwen_weight}
    if stage.number == stages.SPLIT and files.weights != weights:
        found.append(f"router weights {files.weights} (want {weights})")
    return Result("drift", Status.WARNING if found else Status.OK, expected, "; ".join(found) or "matches")


EXTRA = Extra(jobs=jobs, judge=judge)
