"""Planning a stage move of a console deployment. ``observe`` reads the world (the containers, the
server's data/.config.yaml for its secret, the rows); ``make`` is pure: (settings, world, stage,
key) -> ConsolePlan, the row sets the stage changes with their before- and after-images;
``describe`` words it with no secret (the API model's config is never shown).

What each stage wants, from the baseline recorded at adoption (stage 0):
- 0 baseline: the rows as adopted; the toolkit's API model config absent.
- 1 validate: the API model config (``api_model``, type openai, DashScope compatible-mode) added,
  enabled, used by no agent.
- 2 shift (``split: agents``): the share of the participating agents the weights give the API
  (chosen by a stable hash of the agent id, recorded) on the API model; the rest on the local one.
- 3 cutover: every participating agent (and any agent on the local model since), the default
  template and the intent/memory ``llm`` references on the API model; the API model the default
  LLM; the local model config disabled (kept: the way back needs it).
Only the columns the toolkit owns change; a row the operator moved elsewhere since the adoption
is left alone, and said."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from adapters import compose, docker_api, mysql
from adapters.docker_api import epoch
from core import composefile, ollama_store, state
from core.config import Settings, Stage
from core.errors import DatabaseError
from core.files import read_text
from engine.changes import RowsChange
from engine.move import skipped
from targets.xiaozhi_console import CONFIG_FILE, access as reaching, routing, tables as t
from targets.xiaozhi_console.access import Access
from targets.xiaozhi_console.settings import own

VALIDATE, SPLIT, CUTOVER = 1, 2, 3
NO_RESTART = "no restart: devices pick the change up at their next conversation (the server asks manager-api " \
             "for a device's models at each connection)"


@dataclass(frozen=True)
class Started:
    state: str | None
    started: float | None


@dataclass(frozen=True)
class ConsoleWorld:
    state: dict | None
    access: Access
    tables: t.Tables | None = field(default=None, repr=False)
    problem: str = ""                # why the rows could not be read
    server: Started | None = None    # the server's container
    local_state: str | None = None   # the local model's container (None: absent)
    local_service: str | None = None  # the service of their compose file that runs it
    files: dict = field(default_factory=dict, repr=False)   # the router's files as deployed (None: absent)
    router: tuple[str, str | None] | None = None   # the router's container: (state, health); None: absent
    router_image: bool = True        # the router's image is on this engine


@dataclass
class ConsolePlan:
    target: Stage
    recorded: int | None
    sets: list[RowsChange] = field(default_factory=list, repr=False)
    words: list[str] = field(default_factory=list)
    baseline: dict = field(default_factory=dict)
    chosen: tuple[str, ...] = ()           # stage 2: the agents the API gets (split: agents)
    expected: dict = field(default_factory=dict)   # agent id -> the LLM the stage gives it
    refs: dict = field(default_factory=dict)       # intent/memory model id -> the llm it names at the stage
    names: dict = field(default_factory=dict)      # agent id -> its name (the plan's words)
    problems: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pending: dict | None = None
    server_started: float | None = None
    local: str = ""     # the local model's service to start (a way back from the cut-over)
    files: list = field(default_factory=list, repr=False)   # (name, deployed, wanted) of the router's files that change
    router: str = ""    # the router's container: create, recreate, remove or ''

    @property
    def nothing_to_do(self) -> bool:
        return (not self.sets and not self.local and not self.files and not self.router and not self.pending
                and not self.problems and self.recorded == self.target.number)


def observe(settings: Settings, client) -> ConsoleWorld:
    cs, d = own(settings), settings.deploy_dir
    inspects = {name: docker_api.inspect_or_none(client, name) for name in reaching.containers(settings)}
    local = docker_api.inspect_or_none(client, settings.local_llm.container)
    found = reaching.discover(settings, inspects, read_text(d / CONFIG_FILE))
    server = inspects.get(cs.server_container)
    tables, problem = None, ""
    if found.db is not None:
        try:
            with mysql.connect(found.db) as session:
                tables = t.read(session)
        except DatabaseError as exc:
            problem = f"the console's database cannot be read: {exc.what} ({exc.where}); {exc.hint}"
    service = next((name for name, block in composefile.services(read_text(d / compose.BASE_FILE)).items()
                    if block.get("container_name") == settings.local_llm.container), None) \
        if (d / compose.BASE_FILE).exists() else None
    routers = docker_api.project_inspects(client, settings.project, cs.router_service)
    return ConsoleWorld(state.read(d), found, tables, problem,
                        Started(server["State"]["Status"], epoch(server["State"].get("StartedAt"))) if server else None,
                        local["State"]["Status"] if local else None, service,
                        files={name: read_text(d / name) for name in routing.FILES},
                        router=(routers[0]["State"]["Status"], (routers[0]["State"].get("Health") or {}).get("Status"))
                        if routers else None,
                        router_image=docker_api.image_exists(client, cs.router_image))


def api_config(settings: Settings, key: str) -> dict:
    """The API model config's config_json: upstream's openai provider at DashScope's compatible mode."""
    return {"type": "openai", "base_url": settings.api.base_url, "model_name": settings.api.model, "api_key": key}


def deployed_key(tables: t.Tables | None, settings: Settings) -> str:
    """The key the API model config holds now (status and cron have none of their own)."""
    row = (tables.models if tables else {}).get(own(settings).api_model)
    try:
        value = json.loads(row["config_json"]).get("api_key") if row else ""
    except (ValueError, AttributeError):
        value = ""
    return value if isinstance(value, str) else ""


def chosen_agents(participants, qwen_weight: int) -> tuple[str, ...]:
    """The share of agents the API gets at the split: the first by a stable hash of their id."""
    ordered = sorted(participants, key=lambda a: hashlib.sha256(str(a).encode()).hexdigest())
    return tuple(sorted(ordered[:round(len(ordered) * qwen_weight / 100)]))


def adopt(settings: Settings, tables: t.Tables, problems: list[str]) -> dict:
    """The baseline recorded at stage 0: which agents take part and what each reference was."""
    cs, L = own(settings), own(settings).local_model
    local = tables.models.get(L)
    if local is None:
        problems.append(f"no model config {L} in {t.MODELS}: set migrate.xiaozhi_console.local_model to the id of "
                        "your local model's config (the Ollama one your agents use)")
        return {}
    try:
        config = json.loads(local.get("config_json") or "{}")
    except ValueError:
        config = {}
    runs = str(config.get("model_name") or "")
    if runs and ollama_store.split_name(runs) != ollama_store.split_name(settings.local_llm.model):
        problems.append(f"the model config {L} runs {runs}, but migrate.local_llm.model is {settings.local_llm.model}: "
                        "set migrate.local_llm.model to the model your agents use (the decommission removes it)")
    if cs.api_model in tables.models:
        problems.append(f"a model config {cs.api_model} exists already and the toolkit did not add it: set "
                        "migrate.xiaozhi_console.api_model to an id of its own")
    if cs.agents:
        missing = [a for a in cs.agents if a not in tables.agents]
        elsewhere = [a for a in cs.agents if a in tables.agents and tables.agents[a]["llm_model_id"] != L]
        if missing:
            problems.append(f"migrate.xiaozhi_console.agents names agents that do not exist: {', '.join(missing)}")
        if elsewhere:
            problems.append(f"agents not on {L}: {', '.join(elsewhere)}: list only agents on the local model")
        agents = {a: L for a in cs.agents if a in tables.agents}
    else:
        agents = {a: L for a, row in tables.agents.items() if row["llm_model_id"] == L}
    if not agents and not problems:
        problems.append(f"no agent uses {L}: nothing to move (set migrate.xiaozhi_console.local_model to the model "
                        "config your agents use)")
    template = tables.default_template
    refs = {i: t.llm_of(row) for i, row in tables.models.items()
            if row["model_type"] in ("Intent", "Memory") and t.llm_of(row) == L}
    return {"local_model": L, "api_model": cs.api_model, "agents": agents,
            "template": {template: tables.templates[template]["llm_model_id"]} if template else {},
            "refs": refs, "defaults": sorted(i for i, row in tables.models.items()
                                              if row["model_type"] == "LLM" and row.get("is_default") == 1),
            "local_enabled": local.get("is_enabled")}


def make(settings: Settings, world: ConsoleWorld, target: Stage, key: str = "", force: bool = False,
         allow_skip: bool = False) -> ConsolePlan:
    cs = own(settings)
    held = world.state or {}
    recorded = held.get("stage")
    plan = ConsolePlan(target, recorded, pending=held.get("pending"),
                       server_started=world.server.started if world.server else None)
    plan.problems += list(world.access.problems) + ([world.problem] if world.problem else [])
    if plan.problems or world.tables is None:
        return plan
    tb = world.tables
    base = held.get("console") or adopt(settings, tb, plan.problems)
    if plan.problems:
        return plan
    L, A, R, n = base["local_model"], base["api_model"], cs.router_model, target.number
    routes = routing.routes(settings, target)
    if A != cs.api_model or L != cs.local_model:
        plan.problems.append(f"the deployment was adopted with local_model {L} and api_model {A}: put those back in "
                             "migrate.xiaozhi_console (or roll back to 0 first)")
        return plan
    participants = dict(base["agents"])
    for aid, row in tb.agents.items():   # an agent put on the local model since (in the console) takes part too,
        if not cs.agents and row["llm_model_id"] == L and aid not in participants:   # unless a list names them
            participants[aid] = L
    if n == SPLIT and cs.split == "agents":
        kept = held.get("chosen") if (recorded or 0) >= SPLIT else None   # kept across 2 <-> 3; chosen anew below
        plan.chosen = tuple(kept) if kept is not None else chosen_agents(participants, target.qwen_weight)
        share = round(len(participants) * target.qwen_weight / 100)
        if kept is not None and len(kept) != share:
            plan.notes.append(f"the recorded split keeps {len(kept)} agents on the API; the weights now give {share}: "
                              "roll back to 1 and move to 2 again to choose anew")
    # With a list of agents, the unlisted ones still on the local model keep what they share with
    # the listed ones (the intent/memory llm, the default template and LLM) and the local model enabled.
    others = sorted(a for a, row in tb.agents.items() if row["llm_model_id"] == L and a not in participants)
    shared_moves = n >= CUTOVER and not others
    if n >= CUTOVER and others:
        plan.notes.append(f"{len(others)} agent(s) not in migrate.xiaozhi_console.agents still use {L} "
                          f"({', '.join(others[:5])}): the intent/memory llm, the default template and LLM and {L} "
                          "itself stay as they are, and the local model is not decommissioned")
    if not cs.agents:   # a template or intent/memory config put on the local model since takes part too
        base = {**base, "template": {**base["template"], **{i: L for i, row in tb.templates.items()
                                                             if row["llm_model_id"] == L}},
                "refs": {**base["refs"], **{i: L for i, row in tb.models.items()
                                            if row["model_type"] in ("Intent", "Memory") and t.llm_of(row) == L}}}
    plan.baseline = {**base, "agents": participants}
    small = [a for a, row in tb.agents.items() if row.get("slm_model_id") == L]
    if n >= CUTOVER and small:
        plan.notes.append(f"{len(small)} agent(s) name {L} as their slm_model_id (upstream's small model, which the "
                          "server does not select): left as they are")
    plan.names = {aid: tb.agents[aid].get("agent_name") or aid for aid in participants if aid in tb.agents}

    def agent_wants(aid: str) -> str:
        return R if routes else A if n >= CUTOVER or aid in plan.chosen else participants[aid]

    agents_before, agents_after = [], []
    for aid in participants:
        row = tb.agents.get(aid)
        if row is None:
            plan.notes.append(f"agent {aid} was deleted since the adoption")
            continue
        now, want = row["llm_model_id"], agent_wants(aid)
        if now not in (participants[aid], A, R):
            plan.notes.append(f"agent {plan.names.get(aid)} ({aid}) is on {now} (changed in the console since the "
                              "adoption): left alone")
            plan.expected[aid] = now
            continue
        plan.expected[aid] = want
        if now != want:
            agents_before.append(row)
            agents_after.append({**row, "llm_model_id": want})
            plan.words.append(f"agent {plan.names[aid]} ({aid}): llm_model_id {now} -> {want}")

    templates_before, templates_after = [], []
    for tid, was in base["template"].items():
        row = tb.templates.get(tid)
        if row is None:
            continue
        now, want = row["llm_model_id"], A if shared_moves else was
        if now != want and now in (was, A):
            templates_before.append(row)
            templates_after.append({**row, "llm_model_id": want})
            plan.words.append(f"template {row.get('agent_name')} ({tid}): llm_model_id {now} -> {want} "
                              + ("(new agents copy it)" if tid == tb.default_template else ""))
        elif now != want:
            plan.notes.append(f"the template {tid} is on {now} (changed since the adoption): left alone")

    models: dict[str, tuple[dict | None, dict | None]] = {}

    def model_change(mid: str, before: dict | None, after: dict | None, words: str) -> None:
        first = models.get(mid, (before, before))[0]
        models[mid] = (first, after)
        plan.words.append(words)

    for rid, was in base["refs"].items():
        row = tb.models.get(rid)
        if row is None:
            continue
        now, want = t.llm_of(row), A if shared_moves else was
        plan.refs[rid] = want if now in (was, A) else now
        if now != want and now in (was, A):
            model_change(rid, row, {**row, "config_json": t.with_llm(row["config_json"], now, want)},
                         f"model config {rid}: llm {now} -> {want}")
        elif now != want:
            plan.notes.append(f"model config {rid} names llm {now} (changed since the adoption): left alone")
    for did in base["defaults"]:
        row = tb.models.get(did)
        want = 0 if shared_moves else 1
        if row is not None and row.get("is_default") != want and did != A:
            current = models.get(did, (row, row))[1]
            model_change(did, row, {**current, "is_default": want},
                         f"model config {did}: is_default {row.get('is_default')} -> {want}")
    local = tb.models.get(L)
    if local is not None:
        want = 0 if shared_moves else base["local_enabled"]
        if local.get("is_enabled") != want:
            current = models.get(L, (local, local))[1]
            model_change(L, local, {**current, "is_enabled": want},
                         f"model config {L}: " + ("disabled (kept for the way back)" if not want else "enabled again"))

    api = tb.models.get(A)
    if n < VALIDATE:
        if api is not None:
            model_change(A, api, None, f"model config {A}: removed (the toolkit's own)")
    else:
        use = key or deployed_key(tb, settings)
        config = api_config(settings, use)
        skeleton = {column: None for column in (local or {})} if api is None else dict(api)
        want_row = {**skeleton, "id": A, "model_type": "LLM", "model_code": "MigrateApiLLM",
                    "model_name": f"通义千问 API ({settings.api.model})", "is_enabled": 1,
                    "is_default": 1 if shared_moves else 0, "sort": 0,
                    "remark": "added by the xiaozhi LLM migration toolkit; `invoke rollback --to 0` removes it"}
        now_config = json.loads(api["config_json"]) if api is not None and api.get("config_json") else None
        if now_config is not None and (now_config == config or (not key and {**now_config, "api_key": ""} ==
                                                                  {**config, "api_key": ""})):
            want_row["config_json"] = api["config_json"]
        else:
            want_row["config_json"] = json.dumps(config, ensure_ascii=False)
        if api is None:
            model_change(A, None, want_row, f"model config {A}: created ({settings.api.model} at {settings.api.base_url}, "
                                            "enabled, used by no agent yet; key not shown)")
        elif not t.same(api, want_row):
            changed = sorted(k for k in want_row if not t._same_value(api.get(k), want_row[k]))
            model_change(A, api, want_row, f"model config {A}: {', '.join(changed)} updated"
                         + (" (is_default 1: new agents start on it)" if "is_default" in changed and shared_moves else ""))
    master = routing.master_key(settings, world.files, tb.models.get(R))
    router_row = tb.models.get(R)
    if routes:
        skeleton = {column: None for column in (local or {})} if router_row is None else dict(router_row)
        want_row = routing.row(settings, skeleton, master, target)
        if router_row is None:
            model_change(R, None, want_row, f"model config {R}: created (the router at {cs.router_url}; key not shown)")
        elif not t.same(router_row, want_row):
            model_change(R, router_row, want_row, f"model config {R}: updated")
    elif router_row is not None:
        model_change(R, router_row, None, f"model config {R}: removed (the toolkit's own)")
    wanted_files = routing.files(settings, target, key or deployed_key(tb, settings), master)
    plan.files = [(name, world.files.get(name), text) for name, text in wanted_files.items()
                  if world.files.get(name) != text]
    running = world.router is not None and world.router[0] == "running"
    plan.router = ("create" if routes and world.router is None else
                   "recreate" if routes and (plan.files or not running) else
                   "remove" if not routes and world.router is not None else "")
    if routes and plan.router and not world.router_image:
        plan.problems.append(f"the router's image {cs.router_image} is not on this host: build it (`invoke router.build`),"
                             " load it (`docker load`), or set migrate.xiaozhi_console.router_image")
    plan.problems += _still_named(tb, {m for m, (_, after) in models.items() if after is None},
                                  dict(zip([r["id"] for r in agents_before], agents_after)),
                                  dict(zip([r["id"] for r in templates_before], templates_after)),
                                  {m: after for m, (_, after) in models.items() if after is not None})
    if models:
        plan.sets.append(RowsChange(t.MODELS, t.KEY, tuple(b for b, _ in models.values()),
                                    tuple(a for _, a in models.values())))
    if templates_before:
        plan.sets.append(RowsChange(t.TEMPLATES, t.KEY, tuple(templates_before), tuple(templates_after)))
    if agents_before:
        plan.sets.append(RowsChange(t.AGENTS, t.KEY, tuple(agents_before), tuple(agents_after)))
    if target.local_llm and world.local_state != "running" and world.local_service:
        plan.local = world.local_service
    if not (force or allow_skip) and skipped(recorded, target):
        plan.refusals.append(skipped(recorded, target))
    if recorded is None and n > min(settings.stages) and not (force or allow_skip):
        plan.refusals.append(f"no state file in {settings.deploy_dir}: start from stage {min(settings.stages)} (it "
                             "adopts the deployment as found), or pass --force")
    return plan


def _still_named(tb: t.Tables, removed: set, agents: dict, templates: dict, models: dict) -> list[str]:
    """Why a model config the stage removes cannot go: rows that would still name it after the
    stage (an agent created from the template in the console at the cut-over, say). Upstream's own
    delete refuses the same."""
    if not removed:
        return []
    users = ([f"agent {row.get('agent_name')} ({aid})" for aid, row in tb.agents.items()
              if agents.get(aid, row)["llm_model_id"] in removed or row.get("slm_model_id") in removed]
             + [f"template {tid}" for tid, row in tb.templates.items() if templates.get(tid, row)["llm_model_id"] in removed]
             + [f"model config {mid}" for mid, row in tb.models.items()
                if mid not in removed and t.llm_of(models.get(mid, row)) in removed])
    if not users:
        return []
    return [f"the stage removes {', '.join(sorted(removed))}, but {', '.join(users[:8])}"
            + (f" and {len(users) - 8} more" if len(users) > 8 else "") + " still use it (set in the console since the "
            "move): put them on another model in the console (or move them with the migration's stages), then run again"]


def describe(plan: ConsolePlan, settings: Settings) -> str:
    t_, cs = plan.target, own(settings)
    on_api = [a for a, m in plan.expected.items() if m == cs.api_model]
    on_router = [a for a, m in plan.expected.items() if m == cs.router_model]
    lines = [f"stage {plan.recorded if plan.recorded is not None else '?'} -> {t_.number} ({t_.name}): "
             + (f"{len(on_router)} of {len(plan.expected)} agents on {cs.router_model} (the router)" if on_router else
                f"{len(on_api)} of {len(plan.expected)} agents on {cs.api_model}, the rest on their model")]
    if plan.pending:
        lines.append(f"  an earlier run to stage {plan.pending.get('to')} stopped at {plan.pending.get('started')}: "
                     "converging from the rows as they are now")
    if routing.routes(settings, t_):
        lines.append(f"  split: requests: every chat of the moved agents through the router {cs.router_service}, "
                     f"which weighs local {t_.local_weight} / API {t_.qwen_weight} per request")
    if plan.chosen:
        lines.append(f"  split: agents: {len(plan.chosen)} of {len(plan.baseline.get('agents', {}))} agents, chosen by a "
                     "stable hash of their id (recorded; the same set on a re-apply): "
                     + ", ".join(f"{plan.names.get(a, a)} ({a})" for a in plan.chosen))
    lines += [f"  {w}" for w in plan.words] or ["  rows: none change"]
    counts = {s.table: len(s.ids) for s in plan.sets}
    if counts:
        lines.append("  in one transaction, each row compare-and-swap: "
                     + ", ".join(f"{n} row(s) of {table}" for table, n in counts.items())
                     + "; then manager-api's cache of the model configs the stage owns deleted")
    for name, old, new in plan.files:
        lines.append(f"  file {name}: " + ("removed" if new is None else "created" if old is None else "changes")
                     + (" (holds the key: 0600, not shown)" if name in routing.SECRET_FILES and new is not None else ""))
    if plan.router:
        lines.append(f"  router {cs.router_service}: {plan.router}"
                     + (" (healthy before any agent is pointed at it)" if plan.router != "remove" else
                        " (after no agent is pointed at it)"))
    lines.append(f"  {cs.server_container}: {NO_RESTART}")
    if plan.local:
        lines.append(f"  local model's service {plan.local}: started (its container is not running)")
    lines += [f"  note: {n}" for n in plan.notes]
    lines += [f"  cannot migrate: {p}" for p in plan.problems]
    lines += [f"  refused: {r}" for r in plan.refusals]
    return "\n".join(lines)
