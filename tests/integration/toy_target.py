"""A third kind of stack, for the tests only: the proof that the stage engine knows no kind of
stack. Its "stack" is toy.json in the deploy directory, served by one container of the sandbox
image (`python3 -m http.server` over the folder, read-only); a stage writes the file and restarts
the container, and is verified by reading the file back through the container. It is one module
against the target protocol (orchestration/targets.py) and engine.move's Steps, registered by
toy_cli.py with one line in core/registry.py's table: nothing in the toolkit names it.

The container and URL come from the environment the test gives (TOY_CONTAINER, TOY_URL); a file
toy.break in the deploy directory makes the next converge stop the container instead (a stage
whose verification fails).

It also changes rows, as a target whose settings live in a database does: TOY_DB names a JSON
"table" of agents outside the deploy directory (someone else's data, which people edit too). At
stage 3 the agents on the local model ("local") move to the API ("api"), and back below it; an
agent on any other model is never touched. The rows go through the engine as a RowsChange: the
engine backs up their before- and after-images, and a failed verification has them put back.
Writes are compare-and-swap: a row changed since the plan is refused, naming it."""
from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field

from adapters import docker_api, http
from checks import gates as gating
from checks.model import Result, Status
from checks.run import Extra, start
from core import state
from core.config import Settings, Stage
from core.registry import KeyPlace, TargetSpec
from core.errors import MigrationError, Refused
from core.files import atomic_write, read_text
from decommission.run import Routed
from engine import move as engine
from engine.changes import FileChange, Restart, RowsChange

FILE = "toy.json"
BREAK = "toy.break"


def wanted(stage: Stage) -> str:
    return json.dumps({"stage": stage.number, "weights": stage.weights}) + "\n"


TABLE, KEY, OURS = "agents", "id", ("local", "api")


def _table() -> list[dict] | None:
    """The agents' rows, or None when the test gives no table."""
    path = os.environ.get("TOY_DB")
    return json.loads(read_text(path))[TABLE] if path else None


def _write_table(rows: list[dict]) -> None:
    atomic_write(os.environ["TOY_DB"], json.dumps({TABLE: rows}, ensure_ascii=False, indent=1) + "\n")


def rows_change(stage: Stage) -> RowsChange | None:
    """The agents whose model the stage changes: before- and after-images of those rows only."""
    rows = _table()
    want = "api" if stage.number >= 3 else "local"
    before = tuple(r for r in rows or () if r.get("model") in OURS and r["model"] != want)
    return RowsChange(TABLE, KEY, before, tuple({**r, "model": want} for r in before)) if before else None


def _swap(rows: list[dict], expect: tuple, put: tuple, already: tuple) -> list[dict]:
    """``rows`` with each row of ``expect`` replaced by ``put`` (matched by id), compare-and-swap:
    a row that is neither ``expect`` nor ``already`` was changed by someone else: refused, naming it."""
    by_id = {r[KEY]: i for i, r in enumerate(rows)}
    out = list(rows)
    for old, new, done in zip(expect, put, already):
        i = by_id.get(old[KEY])
        if i is None or rows[i] not in (old, done):
            raise Refused(f"row {old[KEY]} of {TABLE} changed since the plan: nothing was written",
                                 where=os.environ["TOY_DB"], hint="plan again (run the same command)")
        out[i] = new
    return out


@dataclass
class Change:
    name: str
    old: str | None
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass
class Plan:
    recorded: int | None
    files: list[Change]
    refusals: list[str] = field(default_factory=list)
    rows: RowsChange | None = None

    @property
    def changed_files(self) -> list[Change]:
        return [c for c in self.files if c.changed]

    @property
    def nothing_to_do(self) -> bool:
        return not self.changed_files and self.rows is None and self.recorded is not None and self.recorded == self.target_number

    target_number: int | None = None


def make(settings: Settings, stage: Stage) -> Plan:
    old = read_text(settings.deploy_dir / FILE)
    return Plan(state.current_stage(settings.deploy_dir), [Change(FILE, old, wanted(stage))],
                rows=rows_change(stage), target_number=stage.number)


def served() -> dict | None:
    try:
        status, text = http.request("GET", os.environ["TOY_URL"], timeout=2)
        return json.loads(text) if status == 200 else None
    except (http.HTTPError, ValueError):
        return None


class Steps:

    def __init__(self, settings: Settings, stage: Stage, client):
        self.settings, self.stage, self.client = settings, stage, client

    def changes(self, plan) -> tuple:
        return (FileChange(FILE), Restart(os.environ["TOY_CONTAINER"])) + ((plan.rows,) if plan.rows else ())

    def restore_rows(self, change: RowsChange) -> list:
        rows = _table()
        by_id = {r[KEY]: r for r in rows}
        left = [a[KEY] for a, b in zip(change.after, change.before) if by_id.get(a[KEY]) not in (a, b)]
        keep = [(a, b) for a, b in zip(change.after, change.before) if a[KEY] not in left]
        _write_table(_swap(rows, tuple(a for a, _ in keep), tuple(b for _, b in keep), tuple(b for _, b in keep)))
        return left

    def audit(self, plan) -> dict:
        return {"toy": FILE}

    def write(self, plan) -> None:
        rows = _swap(_table(), plan.rows.before, plan.rows.after, plan.rows.after) if plan.rows else None
        atomic_write(self.settings.deploy_dir / FILE, plan.files[0].new)
        if rows is not None:
            _write_table(rows)

    def converge(self, plan, out) -> float:
        name, start_ = os.environ["TOY_CONTAINER"], time.time()
        if (self.settings.deploy_dir / BREAK).exists():
            docker_api.stop(self.client, name, 1)
            return time.time() - start_
        docker_api.restart(self.client, name, 1)
        _wait_served()
        return time.time() - start_

    def verify(self) -> list[str]:
        found = served()
        want = json.loads(wanted(self.stage))
        return [] if found == want else [f"toy serves {found}, want {want}"]

    def reapply(self, old_state: dict, plan, out) -> None:
        docker_api.restart(self.client, os.environ["TOY_CONTAINER"], 1)
        _wait_served()

    def applied(self, away) -> dict:
        return {"toy_restart_s": away}

    def recorded(self, plan, old_state: dict) -> dict:
        return {}

    def replan(self):
        return make(self.settings, self.stage)

    def unconverged(self, plan) -> bool:
        return bool(plan.changed_files or plan.rows)

    def describe(self, plan) -> str:
        return _describe(plan)

    def done(self, away) -> str:
        return f"stage {self.stage.number} ({self.stage.name}) applied and verified; toy restarted in {away:.1f} s"


def _describe(plan: Plan) -> str:
    return "\n".join([f"  file {c.name}: {'changes' if c.changed else 'unchanged'}" for c in plan.files]
                     + ([f"  rows of {TABLE}: {', '.join(map(str, plan.rows.ids))} -> {plan.rows.after[0]['model']}"]
                        if plan.rows else []))


def _wait_served(bound: float = 30.0) -> None:
    deadline = time.time() + bound
    while time.time() < deadline:
        if served() is not None:
            return
        time.sleep(0.2)
    raise MigrationError("the toy's container does not serve its file", where=os.environ["TOY_URL"])


@dataclass
class Served:
    body: dict | None = None
    seconds: float = 0.0


async def _probe() -> Served:
    return Served(await asyncio.get_running_loop().run_in_executor(None, served))


def _jobs(settings: Settings, stage: Stage, per: float) -> dict:
    return {"toy": (_probe(), Served())}


def _judge(settings: Settings, stage: Stage, facts: dict) -> list[Result]:
    body, want = facts["toy"].body, json.loads(wanted(stage))
    return [Result("toy.served", Status.OK if body == want else Status.CRITICAL, f"stage {stage.number}",
                   "matches" if body == want else f"serves {body}")]


class Toy:
    name = "toy"
    secret_files: set[str] = set()

    def __init__(self, settings: Settings, client):
        self.settings, self.client = settings, client

    def render(self, stage: Stage) -> dict[str, str]:
        return {FILE: wanted(stage)}

    def uses_api(self, stage: Stage) -> bool:
        return False

    def observe(self):
        return {FILE: read_text(self.settings.deploy_dir / FILE)}

    def plan_and_gate(self, stage: Stage, *, force: bool, backward_ok: bool, out):
        plan = make(self.settings, stage)
        out(f"stage {plan.recorded} -> {stage.number} ({stage.name}): the toy's file\n" + _describe(plan))
        outcome = engine.Outcome(plan)
        if engine.settled(plan, stage, force, out):
            return outcome
        forward = plan.recorded is None or stage.number > plan.recorded
        names = gating.for_move(self.settings, stage, forward) if forward else []   # its way back needs no key
        outcome.gates = engine.run_gates(self.settings, names, plan.recorded, None, stage, force, out)
        return outcome

    def apply(self, stage: Stage, outcome, *, force: bool, out) -> None:
        engine.apply(self.settings, stage, outcome, Steps(self.settings, stage, self.client), force, out)

    def health(self, stage: Stage, **options):
        return start(self.settings, stage, extra=Extra(jobs=_jobs, judge=_judge), **options)

    def needs_local_model(self, stage: Stage) -> tuple[str, list[str]]:
        return "", []

    def local_llm_exists(self) -> bool:
        return False

    def routed(self):
        return Routed("toy", 0)

    def status(self) -> str:
        return f"toy stage {state.current_stage(self.settings.deploy_dir)}; serves {served()}"

    def decommission_preview(self, stage: Stage, out) -> int:
        return 0


SPEC = TargetSpec(name="toy", summary="a JSON file served by one container (tests only)",
                  implementation=Toy, key_place=KeyPlace(FILE, lambda text: ""))
