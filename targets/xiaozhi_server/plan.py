"""Planning a stage move of the upstream server. ``observe`` reads the world (the server's folder,
the state, the server's and the router's containers); ``make`` is pure: (settings, world, stage)
-> ServerPlan, what applying would write, restart, create and remove; ``describe`` shows it with
no value of theirs: their config file is shown as the toolkit's keys before -> after and a count
of their lines kept (it holds keys of theirs no run of ours knows); the toolkit's own files as
diffs, keys masked."""
from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml

from adapters import compose, docker_api
from adapters.docker_api import epoch
from core import composefile, envfile, ollama_store, state
from core.config import Settings, Stage
from core.errors import MigrationError
from core.files import read_text
from core.services import LOCAL_LLM_SERVICE
from core.secrets import mask_env_lines, redact, register
from decommission import drain
from decommission.run import on_host_refusal
from compose_stack import adoption
from engine.move import skipped
from litellm_router import router
from targets.xiaozhi_server import render as rendering, server_config, stages
from targets.xiaozhi_server.facts import Seen
from targets.xiaozhi_server.settings import own

FILES = (rendering.CONFIG_FILE, rendering.OVERRIDE_FILE, rendering.ROUTER_CONFIG, rendering.ROUTER_ENV)


@dataclass(frozen=True)
class ServerWorld:
    files: dict[str, str | None] = field(repr=False)     # FILES as deployed (None: absent)
    state: dict | None
    base: str | None = field(repr=False)   # their docker-compose.yml (never written)
    dotenv: str | None = field(repr=False)
    dotenv_link: bool
    config_link: bool                # data/.config.yaml is a symlink: never written through
    config_mode: int | None          # its permission bits
    config_mtime: float | None
    server: Seen | None              # the server's container
    router: Seen | None              # the router's container
    local_state: str | None = None   # the local model's container: running, exited, ... (None: absent)
    master_key: str = field(default="", repr=False)
    router_platform: tuple[str, str] | None = ("", "")   # (image's, engine's) architecture; None: no image
    conversations: int | None = None     # devices talking to the server now (None: not known)


@dataclass
class Change:
    name: str
    old: str | None = field(repr=False)   # their config file and ours: keys in both
    new: str | None = field(repr=False)   # None: the stage has no such file (removed)

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self, key: str) -> str:
        def masked(text: str | None) -> list[str]:
            return redact(mask_env_lines(text or ""), key).splitlines(keepends=True)
        lines = "".join(difflib.unified_diff(masked(self.old), masked(self.new), f"deployed/{self.name}",
                                             f"stage/{self.name}"))
        return lines or "(only masked values differ: a key)\n"


@dataclass
class ServerPlan:
    target: Stage
    recorded: int | None
    files: list[Change]
    changes: list[str]               # the config file's owned keys, before -> after, in words
    retargeted: list[str]            # references the stage moves off the local entry (kept in the state)
    restart: str                     # why the server restarts ('' : it does not)
    router: str                      # "create", "recreate", "remove" or ''
    adoption: adoption.Adoption
    local: str = ""                  # the local model's service in their file, to start (a way back from 3)
    config_mode: tuple[int, int] | None = None   # their file's mode, now -> then (tightened while it holds the key)
    pending: dict | None = None
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    compose_file_ok: bool = True
    dotenv_link: bool = False
    compose_file: str = ""
    conversations: int | None = None   # devices talking now: the restart waits for them

    @property
    def changed_files(self) -> list[Change]:
        return [f for f in self.files if f.changed]

    @property
    def nothing_to_do(self) -> bool:
        return (not self.changed_files and not self.restart and not self.router and not self.local
                and not self.pending
                and self.recorded == self.target.number and (self.compose_file_ok or self.dotenv_link))


def observe(settings: Settings, client) -> ServerWorld:
    d, xs = settings.deploy_dir, own(settings)
    files = {name: read_text(d / name) for name in FILES}
    config = d / rendering.CONFIG_FILE
    info = config.lstat() if os.path.lexists(config) else None
    server = router_c = local_state = None
    if client is not None:
        c = docker_api.inspect_or_none(client, xs.container)
        if c is not None:
            server = Seen(c["State"]["Status"], epoch(c["State"].get("StartedAt")),
                          project=docker_api.labels_of(c).get(compose.PROJECT_LABEL))
        local_c = docker_api.inspect_or_none(client, settings.local_llm.container)
        local_state = local_c["State"]["Status"] if local_c is not None else None
        for r in docker_api.project_inspects(client, settings.project, xs.router_service):
            router_c = Seen(r["State"]["Status"], name=docker_api.name_of(r),
                            health=(r["State"].get("Health") or {}).get("Status"))
        router_platform = docker_api.image_platform(client, xs.router_image)
    else:
        router_platform = ("", "")
    dotenv = d / adoption.DOTENV
    key = master_key(files, settings.api_key)
    register(key)
    return ServerWorld(files=files, state=state.read(d), base=read_text(d / compose.BASE_FILE),
                       dotenv=read_text(dotenv), dotenv_link=dotenv.is_symlink(),
                       config_link=bool(info and stat.S_ISLNK(info.st_mode)),
                       config_mode=stat.S_IMODE(info.st_mode) if info else None,
                       config_mtime=info.st_mtime if info else None, server=server, router=router_c,
                       local_state=local_state, router_platform=router_platform, master_key=key,
                       conversations=conversations(settings, client))


def conversations(settings: Settings, client) -> int | None:
    """Devices talking now: established connections to the server's port inside its container (its
    own network namespace, read as the decommission's drain reads 11434's); None when it is not running."""
    attrs = docker_api.inspect_or_none(client, own(settings).container) if client is not None else None
    pid = ((attrs or {}).get("State") or {}).get("Pid")
    return drain.established(own(settings).ws_port, pid) if pid else None


def master_key(files: dict[str, str | None], api_key: str) -> str:
    """What the server sends the router. Derived from the API key (HMAC, so that it reveals
    nothing of it): the same at every move with the same key, so that a way back writes the very
    bytes it found. Without a key (cron, status), the deployed one."""
    if api_key:
        return router.master_key_for(api_key)
    deployed = envfile.parse(files.get(rendering.ROUTER_ENV) or "").get(router.MASTER_KEY_VARIABLE)
    if not deployed and files.get(rendering.CONFIG_FILE):
        try:
            entry = ((server_config.load(files[rendering.CONFIG_FILE]).get("LLM") or {})
                     .get(stages.ROUTER_ENTRY) or {})
            deployed = str(entry.get("api_key") or "")
        except MigrationError:
            deployed = ""
    return deployed or ""


def log_begins(docker_state: dict) -> float | None:
    """Where the log of the container's current run begins (Unix seconds), from its inspect
    ``State``: a second before it started (a fast process may write before the engine records the
    start) but never before its previous run finished, whose last lines (a failure to start, say)
    are not this run's. None when it never started."""
    started = epoch(docker_state.get("StartedAt"))
    if started is None:
        return None
    finished = epoch(docker_state.get("FinishedAt"))
    return max(started - 1, finished) if finished is not None and finished < started else started - 1


def make(settings: Settings, world: ServerWorld, target: Stage, force: bool = False,
         allow_skip: bool = False) -> ServerPlan:
    d, recorded_state = settings.deploy_dir, world.state or {}
    recorded = recorded_state.get("stage")
    problems, theirs, data = _adoption(settings, world)
    if problems:
        return ServerPlan(target, recorded, [], [], [], "", "", adoption.Adoption(problems, [], set()))
    text = world.files[rendering.CONFIG_FILE]
    local = rendering.local_service(theirs, settings.local_llm.container, settings.compose_names[LOCAL_LLM_SERVICE])
    wanted, edited = rendering.for_stage(settings, target, text, world.master_key, key=settings.api_key,
                                         retargeted=tuple(recorded_state.get("retargeted") or ()), local=local)
    files = [Change(name, world.files.get(name), wanted[name]) for name in FILES]
    config_changed = wanted[rendering.CONFIG_FILE] != text
    server = world.server
    restart = ("its config file changes" if config_changed else
               "it is not running" if not server or server.state != "running" else
               "it started before its config file was last written (a change that has not taken effect)"
               if server.started and world.config_mtime and server.started < world.config_mtime else "")
    split = target.number == stages.SPLIT
    router_files = any(c.changed for c in files if c.name != rendering.CONFIG_FILE)
    running = world.router is not None and world.router.state == "running"
    router_action = ("create" if split and world.router is None else
                     "recreate" if split and (router_files or not running) else
                     "remove" if not split and world.router is not None else "")
    compose_file = compose.compose_file_value(d)
    plan = ServerPlan(target, recorded, files, edited.changes, edited.retargeted, restart, router_action,
                      adoption.Adoption([], [], set()), pending=recorded_state.get("pending"),
                      config_mode=_mode(world.config_mode, recorded_state.get("config_mode"), target, config_changed),
                      compose_file_ok=envfile.parse(world.dotenv or "").get(adoption.COMPOSE_FILE) == compose_file,
                      dotenv_link=world.dotenv_link, compose_file=compose_file,
                      local=local.name if local is not None and target.local_llm and world.local_state != "running"
                      else "",
                      notes=_notes(settings, data) + _host_notes(settings, target)
                      + _mismatch_note(settings, world, theirs, data), conversations=world.conversations)
    if not (force or allow_skip) and skipped(recorded, target):
        plan.refusals.append(skipped(recorded, target))
    if split and router_action in ("create", "recreate"):
        plan.adoption.problems.extend(_router_image(settings, world.router_platform))
    if recorded is None and target.number > min(settings.stages) and not (force or allow_skip):
        plan.refusals.append(f"no state file in {d}: start from stage {min(settings.stages)} (it adopts the "
                             "server as found), or pass --force")
    return plan


def _router_image(settings: Settings, platform: tuple[str, str] | None) -> list[str]:
    """Why the router cannot start here (checked before anything changes): its image is missing,
    or built for another architecture than this engine's."""
    image = own(settings).router_image
    first = image.split("/", 1)[0]
    if platform is None and "/" in image and ("." in first or ":" in first or first == "localhost"):
        return []   # in a registry: Compose pulls it (and says so if it cannot)
    if platform is None:
        return [f"the router's image {image} is not on this host: build it (`invoke router.build` builds "
                "it from pinned wheels), load it (`docker load`), or name one in your registry in "
                "migrate.xiaozhi_server.router_image, then run again"]
    built, engine = platform
    if built and engine and built != engine:
        return [f"the router's image {image} is built for {built}, this engine runs {engine}: build it on this "
                "host (or set migrate.xiaozhi_server.router_image to an image for " + engine + ")"]
    return []


def _model(name: str) -> tuple[str, str, str, str]:
    """A model as Ollama reads its name (registry, namespace, name, tag): `qwen2.5`,
    `qwen2.5:latest` and `registry.ollama.ai/library/qwen2.5` are one model."""
    return ollama_store.split_name(name.strip())


def _mode(now: int | None, theirs: int | None, target: Stage, changed: bool) -> tuple[int, int] | None:
    """Their config file's mode (now, then): tightened to the owner when it gets the API key; put
    back to theirs (kept in the state) when a way back takes the key out again."""
    if now is None or not changed:
        return None
    if stages.holds_key(target.number):
        return (now, now & 0o700) if now & 0o077 else None
    return (now, theirs) if theirs is not None and theirs != now else None


def _adoption(settings: Settings, world: ServerWorld) -> tuple[list[str], dict, object]:
    """Why the server's folder cannot be migrated as it is (nothing is written then); and, read
    once for the plan, their compose file's services and their config file."""
    xs, d = own(settings), settings.deploy_dir
    config = d / rendering.CONFIG_FILE
    if world.base is None:
        return [f"no {compose.BASE_FILE} in {d}: set migrate.deploy_dir to the server's folder (it holds "
                f"{compose.BASE_FILE} and {rendering.CONFIG_FILE})"], {}, None
    try:
        theirs = composefile.services(world.base)
    except yaml.YAMLError as exc:
        return [f"{compose.BASE_FILE} is not YAML Compose can read: {str(exc).splitlines()[0]}"], {}, None
    problems, data = [], None
    if not any(block.get("container_name") == xs.container for block in theirs.values()):
        problems.append(f"no service of {compose.BASE_FILE} runs the container {xs.container}: set "
                        "migrate.xiaozhi_server.container to its container_name")
    project = world.server.project if world.server else None
    if project and project != settings.project:
        problems.append(f"{xs.container} runs in the Compose project {project}, not {settings.project}: set "
                        f"migrate.project to {project} (the router and the local model must join its project)")
    if xs.router_service in theirs:
        problems.append(f"{compose.BASE_FILE} already has a service {xs.router_service}: set "
                        "migrate.xiaozhi_server.router_service to another name")
    if world.files.get(rendering.CONFIG_FILE) is None:
        problems.append(f"{config} is missing: the server does not start without it (create it as the "
                        "upstream README says, then run again)")
    elif world.config_link:
        problems.append(f"{config} is a symlink, and the toolkit never writes through one: replace it with the "
                        f"file it points at ({os.path.realpath(config)})")
    else:
        data = server_config.load(world.files[rendering.CONFIG_FILE], str(config))  # refuses manager-api
        selected = server_config.selected_llm(data)
        if world.state is None and selected is None:
            problems.append(f"{rendering.CONFIG_FILE} sets no selected_module.LLM: the server runs the LLM its built-in "
                            f"config.yaml selects, which may not be your local model; add `LLM: {xs.local_entry}` under "
                            "selected_module (the entry of your local model), restart the server, then run again")
        elif world.state is None and selected != xs.local_entry:
            problems.append(f"selected_module.LLM is {selected}, not the local entry {xs.local_entry}: set "
                            "migrate.xiaozhi_server.local_entry to the entry of your local model")
        entry = (data.get("LLM") or {}).get(xs.local_entry) if hasattr(data.get("LLM"), "get") else None
        runs = str(entry.get("model_name") or "") if hasattr(entry, "get") else ""
        if runs and _model(runs) != _model(settings.local_llm.model):
            # The router, health and the decommission name the model by migrate.local_llm.model: with
            # another one there, the decommission would remove a model the server does not use.
            problems.append(f"LLM.{xs.local_entry}.model_name is {runs}, but migrate.local_llm.model is "
                            f"{settings.local_llm.model}: set migrate.local_llm.model to "
                            f"{ollama_store.display_name(*_model(runs))} (the model your server runs, as Ollama "
                            "lists it; the router, health and the decommission use it)")
        problems += _where_ollama_runs(settings, world, theirs, entry)
    return problems + adoption.folder_problems(d, world.dotenv), theirs, data


LOOPBACK = ("localhost", "127.0.0.1", "::1")
OLLAMA_DEFAULT_URL = "http://localhost:11434"   # what upstream's Ollama provider uses without a base_url
UNREADABLE = "(an address that cannot be read, not shown)"


def _reached(url: str) -> tuple[str, int | None]:
    """Host and port of a URL, as the server or the router would connect (never its user or path).
    A password with an unencoded '/' moves the '@' out of the address: nothing of it is shown then."""
    parts = urlsplit(url)
    address = url.split("://", 1)[-1]
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return UNREADABLE, None
    if "@" in address and "@" not in parts.netloc:
        return UNREADABLE, None
    return (parts.hostname or "").lower(), port


def entry_url(entry) -> str:
    """Where the server's local entry reaches its model: upstream's Ollama provider reads base_url
    only (localhost without one); its OpenAI-compatible one base_url, else url."""
    if not hasattr(entry, "get"):
        return ""
    if str(entry.get("type") or "").lower() == "ollama":
        return str(entry.get("base_url") or OLLAMA_DEFAULT_URL)
    return str(entry.get("base_url") or entry.get("url") or "")


def _where_ollama_runs(settings: Settings, world: ServerWorld, theirs: dict, entry) -> list[str]:
    """The local entry's base_url is where the server reaches its Ollama; the router, health and
    the decommission use migrate.local_llm.*. They must be the same Ollama: refused at adoption,
    naming both (host and port only: a URL of theirs may carry a password); a note afterwards, so
    that a way back (rollback, outage) is never blocked by a file edited since."""
    xs, ll = own(settings), settings.local_llm
    url = entry_url(entry)
    problems = []
    service = rendering.local_service(theirs, ll.container, settings.compose_names[LOCAL_LLM_SERVICE])
    if ll.on_host and service is not None:
        problems.append(f"migrate.local_llm.runs_on is host, but the service {service.name} of {compose.BASE_FILE} "
                        "runs Ollama in this stack: leave runs_on out (container), or name your host's Ollama only")
    elif ll.on_host and world.local_state is not None:
        problems.append(f"migrate.local_llm.runs_on is host, but a container {ll.container} exists here "
                        f"({world.local_state}): remove it if it is an old one (`docker rm {ll.container}`), or "
                        "leave runs_on out (container) if it is your Ollama")
    if not url:
        return problems
    mismatch = _ollama_mismatch(settings, url, service)
    host, port = _reached(url)
    if mismatch and world.state is None:
        problems.append(mismatch)
    elif (world.state is None and not ll.on_host and service is None and world.local_state is None
          and host not in _in_stack(settings, service) and host not in LOOPBACK):
        problems.append(f"no container {ll.container} and no service of {compose.BASE_FILE} runs Ollama, and "
                        f"LLM.{xs.local_entry}.base_url reaches it at {host}:{port}: if Ollama runs on this "
                        "host (not in Compose), set migrate.local_llm.runs_on: host")
    return problems


def _in_stack(settings: Settings, service) -> set[str]:
    """The names the stack's Ollama answers to: its container, the configured service, their file's service."""
    ll = settings.local_llm
    names = {ll.container.lower(), settings.compose_names[LOCAL_LLM_SERVICE].lower()}
    return names | ({service.name.lower()} if service is not None else set())


def _ollama_mismatch(settings: Settings, url: str, service) -> str:
    """Why the entry's Ollama (``url``) is not migrate.local_llm.url's, or ''; host and port only."""
    ll = settings.local_llm
    (host, port), (want_host, want_port) = _reached(url), _reached(ll.url)
    if host in LOOPBACK:   # the server's own container, or the host with network_mode: host: a note says so
        if port == want_port:
            return ""
        found = f"on port {port} of {host}"
    elif (host == want_host or (not ll.on_host and {host, want_host} <= _in_stack(settings, service))) \
            and port == want_port:
        return ""
    else:
        found = f"at {host}:{port}"
    return (f"LLM.{own(settings).local_entry}.base_url reaches Ollama {found}, but migrate.local_llm.url "
            f"is {want_host}:{want_port}: the router and the checks would use another Ollama than your server "
            "does; set migrate.local_llm.url (and probe_url, as this host reaches it) to your server's Ollama")


def _mismatch_note(settings: Settings, world: ServerWorld, theirs: dict, data) -> list[str]:
    """After adoption, the same disagreement is said, not refused (a way back must stay open)."""
    if world.state is None or data is None:
        return []
    entry = (data.get("LLM") or {}).get(own(settings).local_entry) if hasattr(data.get("LLM"), "get") \
        else None
    url = entry_url(entry)
    ll = settings.local_llm
    mismatch = url and _ollama_mismatch(settings, url, rendering.local_service(
        theirs, ll.container, settings.compose_names[LOCAL_LLM_SERVICE]))
    return [f"warning: {mismatch}"] if mismatch else []


def _notes(settings: Settings, data) -> list[str]:
    """What an operator should know about their file (never changed by the toolkit)."""
    entry = (data.get("LLM") or {}).get(own(settings).local_entry) or {}
    host = _reached(entry_url(entry))[0]
    notes = []
    if host in LOOPBACK:
        notes.append(f"LLM.{own(settings).local_entry}.base_url names {host} (of yours; only its host "
                     "shown): inside the server's container that is the container itself; the router reaches the "
                     "model at " + settings.local_llm.url)
    return notes


def _host_notes(settings: Settings, target: Stage) -> list[str]:
    """A stage that sends the local model nothing, with Ollama on the host: freeing it is the operator's."""
    if not settings.local_llm.on_host or target.local_llm:
        return []
    refusal = on_host_refusal(settings)
    return [f"{refusal.what}; {refusal.hint.removesuffix('; nothing was changed')}"]


def theirs_unchanged(old: str, new: str) -> int:
    """How many lines of their config file are not the toolkit's, and stay as they are."""
    try:
        owned = server_config.owned_lines(server_config.load(old))
    except MigrationError:
        return 0
    return sum(1 for i, line in enumerate(old.splitlines()) if i not in owned and line.strip())


def _open_now(count: int | None) -> str:
    """Devices talking now, in words (a device does not reconnect by itself: a restart mid-turn loses it)."""
    return "" if count is None else f"{count} conversation(s) open now; " if count else "no conversation open now; "


def describe(plan: ServerPlan, key: str, settings: Settings) -> str:
    t, xs = plan.target, own(settings)
    lines = [f"stage {plan.recorded if plan.recorded is not None else '?'} -> {t.number} ({t.name}): "
             f"{rendering.CONFIG_FILE} selects {stages.selected_for(t.number, xs.local_entry)}"
             + (f", the router weighs local {t.local_weight} / API {t.qwen_weight}" if t.number == stages.SPLIT else "")]
    if plan.pending:
        lines.append(f"  an earlier run to stage {plan.pending.get('to')} stopped at {plan.pending.get('started')}: "
                     "converging from what is on disk and running now")
    for words in plan.changes:
        lines.append(f"  {words}")
    for change in plan.files:
        if change.old is None and change.new is None:
            continue
        verb = ("unchanged" if not change.changed else "removed" if change.new is None else
                "created" if change.old is None else "changes")
        lines.append(f"  file {change.name}: {verb}")
        if change.name == rendering.CONFIG_FILE and change.changed:
            # Theirs: the owned keys' changes are listed above; no line of theirs is ever shown.
            lines.append(f"    {theirs_unchanged(change.old or '', change.new or '')} lines of yours unchanged")
        elif change.changed and change.new is not None:
            lines.extend("    " + line for line in change.diff(key).splitlines())
    if plan.config_mode:
        lines.append(f"  {rendering.CONFIG_FILE}: mode {plan.config_mode[0]:04o} -> {plan.config_mode[1]:04o} "
                     + ("(it will hold the API key; stage 0 puts yours back)" if stages.holds_key(t.number) else "(yours again)"))
    if plan.restart:
        lines.append(f"  {xs.container}: RESTARTS ({plan.restart}); {_open_now(plan.conversations)}it waits for quiet "
                     f"(up to {settings.gates.quiet_wait} s, --quiet-wait), then refuses unless --force")
    else:
        lines.append(f"  {xs.container}: keeps running (no restart)")
    if plan.local:
        lines.append(f"  local model's service {plan.local}: started (its container is not running)")
    if plan.router:
        lines.append(f"  router {xs.router_service}: {plan.router}")
    lines += adoption.lines(plan.adoption, compose_file=plan.compose_file, compose_file_ok=plan.compose_file_ok,
                            dotenv_link=plan.dotenv_link)
    lines += [f"  note: {n}" for n in plan.notes]
    lines += [f"  refused: {r}" for r in plan.refusals]
    return "\n".join(lines)
