"""Planning a stage change. ``observe`` reads the world (files, state, containers); ``make``
is pure: (settings, world, target files) -> Plan, the typed list of what applying would do.
The apply step acts on a Plan, then observes and plans again to prove nothing is outstanding."""
from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from typing import Mapping


from adapters import compose, docker_api
from checks import judge, stack
from compose_stack import adoption
from targets.compose_env import adoption as ours, render as rendering
from core import envfile, state
from core.config import Settings, Stage
from core.files import read_text
from core.secrets import mask_env_lines, redact
from core.services import LOCAL_LLM_SERVICE
from engine import move

FINGERPRINT = "xiaozhi.migrate.fingerprint"


@dataclass(frozen=True)
class Running:
    """A container of the stack as a plan reads it."""
    name: str
    state: str | None                     # running, exited, ...
    fingerprint: str = ""                 # the stage's label on it ("" : none)
    role: str = ""                        # the stack's role of its service (vad, llm-service, ...)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)   # the drift variables only
    env_digests: Mapping[str, str] | None = field(default=None, repr=False)   # every variable's (None: not read)
    health: str = ""                      # its healthcheck's status: healthy, unhealthy, starting ("" : none)


@dataclass(frozen=True)
class World:
    files: dict[str, str | None] = field(repr=False)   # the stage's deployed files (override, llm.env) -> text or None
    state: dict | None
    containers: Mapping[str, Running]     # Compose service -> its container
    local_container: Running | None       # xiaozhi-local-llm, whoever owns it
    base: str | None = field(default=None, repr=False)    # the operator's docker-compose.yml (never written)
    dotenv: str | None = field(default=None, repr=False)  # the project's .env, where Compose reads COMPOSE_FILE
    dotenv_link: bool = False             # .env is a symlink: never written through
    # A service with more than one container (a start-first move stopped half-way) -> their names.
    duplicates: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def envs(self) -> dict[str, dict[str, str]]:
        """Each role's observed drift variables, as judge.drift_of reads them."""
        return {c.role or name: c.env for name, c in self.containers.items()}


@dataclass
class FileChange:
    name: str
    old: str | None = field(repr=False)   # the files hold the key
    new: str = field(repr=False)

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self, key: str) -> str:
        """Every *API_KEY= value masked on both sides: the deployed side may hold a key that this
        run does not know (rotated, or the shell has none), so redacting known keys is not enough."""
        old = redact(mask_env_lines(self.old or ""), key).splitlines(keepends=True)
        new = redact(mask_env_lines(self.new, compare_to=self.old or ""), key).splitlines(keepends=True)
        return "".join(difflib.unified_diff(old, new, f"deployed/{self.name}", f"stage/{self.name}"))


@dataclass
class Plan:
    target: Stage
    recorded: int | None                  # the stage the state file names
    observed: list[int]                   # stages whose environment the running containers match
    files: list[FileChange]
    recreate: list[str]                   # services Compose will create or recreate
    left_running: list[str]               # containers that leave compose but keep running
    pending: dict | None = None           # an earlier run that stopped half-way
    refusals: list[str] = field(default_factory=list)
    adoption: adoption.Adoption = field(default_factory=lambda: adoption.Adoption([], [], set()))
    orphans: list[str] = field(default_factory=list)  # containers no service of the merged model declares
    base_changed: tuple[str, str] | None = None       # (as last applied, now): sha256 prefixes
    compose_file_ok: bool = True          # .env already names both files in COMPOSE_FILE
    dotenv_link: bool = False             # ... and if not, it cannot be written (a symlink)
    compose_file: str = ""                # the COMPOSE_FILE value that names both files
    model_diff: str = ""                  # the merged model before -> after (merged.py fills it)
    existing: set[str] = field(default_factory=set)  # services that have a container now
    running: set[str] = field(default_factory=set)   # ... and whose container runs
    # A running service the move recreates -> "" when it is replaced start-first (replace.py), else
    # why Compose must stop it first (its container_name, a host port); filled from the merged model.
    replacing: dict[str, str] = field(default_factory=dict)
    replace_warnings: dict[str, str] = field(default_factory=dict)   # start-first, but not waited for (no healthcheck)
    duplicates: Mapping[str, list[str]] = field(default_factory=dict)  # World.duplicates of the services it owns

    @property
    def changed_files(self) -> list[FileChange]:
        return [f for f in self.files if f.changed]

    @property
    def nothing_to_do(self) -> bool:
        return (not self.changed_files and not self.recreate and self.recorded == self.target.number
                and not self.pending and not self.base_changed and (self.compose_file_ok or self.dotenv_link))


def read_files(settings: Settings) -> dict[str, str | None]:
    """The deployed files, by name; None for one that is absent."""
    return {name: read_text(settings.deploy_dir / name) for name in rendering.FILES}


def read_world_files(settings: Settings) -> dict:
    """Every file a plan reads: the stage's, the operator's base file and the project's .env."""
    dotenv = settings.deploy_dir / adoption.DOTENV
    return {"files": read_files(settings), "base": read_text(settings.deploy_dir / compose.BASE_FILE),
            "dotenv": read_text(dotenv), "dotenv_link": dotenv.is_symlink()}


def observe(settings: Settings, client) -> World:
    containers, seen = {}, {}
    roles = {name: role for role, name in settings.compose_names.items()}
    for attrs in docker_api.project_inspects(client, settings.project):
        labels = docker_api.labels_of(attrs)
        service = labels.get(compose.SERVICE_LABEL, "")
        role = roles.get(service, service)
        found = Running(docker_api.name_of(attrs), attrs["State"].get("Status"), labels.get(FINGERPRINT, ""), role,
                        stack.drift_env(attrs, role), stack.env_digests(attrs),
                        (attrs["State"].get("Health") or {}).get("Status", ""))
        seen.setdefault(service, []).append(found.name)
        kept = containers.get(service)
        if kept is None or (kept.state != "running" and found.state == "running"):   # two: the running one
            containers[service] = found
    local = next((c for c in containers.values() if c.name == settings.local_llm.container), None)
    if local is None:
        found = docker_api.inspect_or_none(client, settings.local_llm.container)
        local = Running(docker_api.name_of(found), found["State"]["Status"]) if found else None
    return World(state=state.read(settings.deploy_dir), containers=containers, local_container=local,
                 duplicates={name: sorted(names) for name, names in seen.items() if len(names) > 1},
                 **read_world_files(settings))


def _env_differs(container: Running, wanted: dict[str, str]) -> bool:
    """Compose recreates a container whose environment differs from its files (hand edits, a
    rotated key), even when the fingerprint label still matches: so does the plan."""
    running = container.env_digests
    if running is None:  # not observed (a world built by hand): the fingerprint decides
        return False
    return any(running.get(k) != stack.value_digest(v) for k, v in wanted.items())


def stages_matching(settings: Settings, world: World) -> list[int]:
    return [n for n, stage in settings.stages.items() if not judge.drift_of(stage, world.envs)]


def make(settings: Settings, world: World, target: Stage, wanted: dict[str, str], force: bool = False,
         allow_skip: bool = False) -> Plan:
    recorded = (world.state or {}).get("stage")
    files = [FileChange(name, world.files.get(name), text) for name, text in wanted.items()]
    wanted_prints, wanted_env = rendering.fingerprints(wanted), rendering.environments(wanted)
    recreate = sorted(name for name, fp in wanted_prints.items()
                      if name not in world.containers or world.containers[name].fingerprint != fp
                      or world.containers[name].state != "running"
                      or _env_differs(world.containers[name], wanted_env.get(name, {})))
    duplicates = {name: names for name, names in world.duplicates.items() if name in wanted_prints}
    recreate = sorted(set(recreate) | set(duplicates))   # one container again, on the stage's settings
    local = settings.compose_names[LOCAL_LLM_SERVICE]
    left = [name for name in world.containers if name not in wanted_prints and name == local
            and world.containers[name].state == "running"]
    adopted = ours.check(settings, world, wanted)
    base_sha = base_digest(world.base) if world.base is not None else None
    applied_sha = (world.state or {}).get("base_sha256")
    plan = Plan(target=target, recorded=recorded, observed=stages_matching(settings, world), files=files,
                recreate=recreate, left_running=left, pending=(world.state or {}).get("pending"),
                existing=set(world.containers), duplicates=duplicates,
                running={name for name, c in world.containers.items() if c.state == "running"},
                adoption=adopted, orphans=sorted(f"{c.name} (service {name})" for name, c in world.containers.items()
                                                 if adopted.declared and name not in adopted.declared),
                base_changed=(applied_sha, base_sha) if applied_sha and base_sha and applied_sha != base_sha else None,
                compose_file_ok=envfile.parse(world.dotenv or "").get(adoption.COMPOSE_FILE)
                == compose.compose_file_value(settings.deploy_dir), dotenv_link=world.dotenv_link,
                compose_file=compose.compose_file_value(settings.deploy_dir))
    if not (force or allow_skip) and move.skipped(recorded, target):
        plan.refusals.append(move.skipped(recorded, target))
    if recorded is None and target.number > min(settings.stages) and not (force or allow_skip):
        if not any(n >= target.number - 1 for n in plan.observed):
            plan.refusals.append(f"no state file and the running stack does not look like stage "
                                 f"{target.number - 1}: start from stage {min(settings.stages)}, or pass --force")
    return plan


def base_digest(text: str) -> str:
    """The operator's base file as the state records it, to notice a change between runs."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def folder_lines(plan: Plan) -> list[str]:
    """compose_stack/adoption.py's lines for this plan."""
    return adoption.lines(plan.adoption, compose_file=plan.compose_file, compose_file_ok=plan.compose_file_ok,
                          dotenv_link=plan.dotenv_link, orphans=plan.orphans, base_changed=plan.base_changed)


def describe(plan: Plan, key: str, grace_s: int | None = None) -> str:
    """The plan as an operator reads it, key redacted."""
    t = plan.target
    head = (f"stage {plan.recorded if plan.recorded is not None else '?'} -> {t.number} ({t.name}): "
            f"LLM_PROVIDER_WEIGHTS={t.weights}, local LLM {'kept' if t.local_llm else 'out of compose'}")
    lines = [head]
    if plan.observed and plan.recorded is not None and plan.recorded not in plan.observed:
        lines.append(f"  note: the state file says stage {plan.recorded}, the running containers match "
                     f"stage(s) {', '.join(map(str, plan.observed))}")
    if plan.pending:
        lines.append(f"  an earlier run to stage {plan.pending.get('to')} stopped at {plan.pending.get('started')}: "
                     "converging from what is on disk and running now")
    for change in plan.files:
        lines.append(f"  file {change.name}: {'changes' if change.changed else 'unchanged'}")
        if change.changed:
            lines.extend("    " + line for line in change.diff(key).splitlines())
    restart = [name for name in plan.recreate if name in plan.existing]
    create = [name for name in plan.recreate if name not in plan.existing]
    lines.append("  recreate: " + (", ".join(restart) + " (these containers restart"
                                   + (f"; requests in flight get up to {grace_s} s to finish)" if grace_s else ")")
                                   if restart else "nothing (no container restarts)"))
    for name, names in sorted(plan.duplicates.items()):
        lines.append(f"  note: {name} has {len(names)} containers ({', '.join(names)}): a move stopped half-way; "
                     "this one leaves one, on the stage's settings")
    for name, why in sorted(plan.replacing.items()):
        if why:
            lines.append(f"  {name}: stop-first (no {name} answers while the new one starts): {why}")
        else:
            lines.append(f"  {name}: start-first: a new container with the stage's settings must be healthy before "
                         "the running one is told to stop, so one is always answering")
            if plan.replace_warnings.get(name):
                lines.append(f"  warning: {plan.replace_warnings[name]}")
    if create:
        lines.append("  create: " + ", ".join(create) + " (no container yet)")
    if plan.left_running:
        lines.append("  left running (decommissioned separately): " + ", ".join(plan.left_running))
    lines += folder_lines(plan)
    if plan.model_diff:
        lines.append("  merged model (docker compose config of your file + the override; the toolkit's values "
                     "shown, yours only named):")
        lines.extend("    " + line for line in plan.model_diff.splitlines())
    for refusal in plan.refusals:
        lines.append(f"  refused: {refusal}")
    return "\n".join(lines)
