"""A stage move from start to end, whatever the target: refuse what cannot work, plan and gate,
show what the decommission that follows stage 3 will do, ask, apply (the target verifies and
rolls back by itself), then decommission the local LLM once the stage without it is verified."""
from __future__ import annotations

from adapters import compose
from core import state
from core.config import Settings, Stage
from core.errors import GateFailed, MigrationError, Refused, VerifyFailed
from engine.move import Outcome, preflight
from orchestration import targets
from orchestration import alerting
from decommission.quarantine import repair_hint
from decommission import run


def phase(settings: Settings, number: int, *, dry_run: bool = False, yes: bool = False, force: bool = False,
          confirm=None, out=print, backward_ok: bool = False) -> Outcome:
    stage = settings.stage(number)
    target = targets.load(settings)
    preflight(settings, stage, dry_run, target.uses_api(stage), target.secret_files)
    compose.require_v2()
    _require_local_model(settings, target, stage)
    if dry_run:
        return _prepare(settings, target, stage, force, backward_ok, out, dry_run=True)
    try:
        outcome = _move(settings, target, stage, yes, force, confirm, out, backward_ok)
    except GateFailed as exc:
        _alert(settings, "WARNING", stage, ("gate_refused", {"n": stage.number, "what": exc.what}),
               [(line.split(":")[0], "WARNING", line) for line in exc.detail.splitlines()[:5]] if exc.detail else [])
        raise
    except VerifyFailed as exc:
        _alert(settings, "CRITICAL", stage, ("verify_failed", {"n": stage.number}),
               [("verify", "CRITICAL", line) for line in (exc.detail or exc.message).splitlines()[:5]])
        raise
    if outcome.applied:
        _alert(settings, "OK", stage, ("rolled_back_to" if backward_ok else "applied",
                                       {"n": stage.number, "name": stage.name}))
    return outcome


def _alert(settings: Settings, status: str, stage: Stage, changed: tuple[str, dict], failing=()) -> None:
    alerting.event(settings, "phase", status, stage.number, changed, failing)


def _move(settings, target, stage, yes, force, confirm, out, backward_ok) -> Outcome:
    with state.lock(settings.deploy_dir):
        outcome = _prepare(settings, target, stage, force, backward_ok, out, dry_run=False)
        if outcome.plan.nothing_to_do:
            return outcome
        if not yes and not (confirm and confirm(f"apply stage {stage.number} ({stage.name})?")):
            raise MigrationError("not confirmed: nothing was changed", hint="answer y, or pass --yes")
        if outcome.deletes_bytes and not yes and not confirm(
                f"then DELETE {outcome.deletes_bytes / 1e9:.2f} GB of model files for good (no quarantine is "
                f"configured, so a way back means pulling the model again)?"):
            raise MigrationError("not confirmed: nothing was changed",
                                 hint="answer y, or set migrate.decommission.quarantine_dir to keep a copy")
        target.apply(stage, outcome, force=force, out=out)
        outcome.applied = True
        if not stage.local_llm and target.local_llm_exists():
            _decommission(settings, target, stage, out)
        return outcome


def rollback(settings: Settings, to: int | None, **kwargs) -> Outcome:
    """Back to ``to`` (default: the stage before the current one) through the same move."""
    current = state.current_stage(settings.deploy_dir)
    if to is None:
        earlier = [n for n in settings.stages if current is not None and n < current]
        if not earlier:
            raise Refused(f"nothing to roll back from (current stage: {current})", where="invoke rollback",
                          hint="pass --to N")
        to = max(earlier)
    if current is not None and to > current:
        raise Refused(f"stage {to} is ahead of the current stage {current}", where="--to",
                      hint="use `invoke phase --stage N` to move forward")
    return phase(settings, to, backward_ok=True, **kwargs)


def _require_local_model(settings: Settings, target: targets.Target, stage: Stage) -> None:
    """A stage that sends traffic to the local LLM needs its model in the store (after a
    decommission it may be quarantined, or gone)."""
    if not stage.local_llm:
        return
    where, problems = target.needs_local_model(stage)
    if problems:
        missing = problems[0].startswith("no manifest")
        raise MigrationError(f"stage {stage.number} needs the local model {settings.local_llm.model}, "
                             f"which is {'not in the store' if missing else 'not whole in the store'}",
                             where=where, detail="\n".join(problems),
                             hint=repair_hint(settings, container_exists=target.local_llm_exists()))


def _prepare(settings, target, stage, force, backward_ok, out, dry_run) -> Outcome:
    outcome = target.plan_and_gate(stage, force=force, backward_ok=backward_ok, out=out)
    if not outcome.plan.nothing_to_do:
        if not stage.local_llm and target.local_llm_exists():
            outcome.deletes_bytes = target.decommission_preview(stage, out)
            if outcome.deletes_bytes:
                out("warning: no quarantine is configured (migrate.decommission.quarantine_dir): if the API fails "
                    "later, the outage plan (`invoke outage`) must pull the model again "
                    f"({outcome.deletes_bytes / 1e9:.1f} GB) before the local model can answer")
        if dry_run:
            out("dry run: nothing was changed")
    return outcome


def decommission(settings: Settings, target: targets.Target | None = None, **options) -> dict:
    """`invoke decommission`: the target says what the running stack still sends the local LLM."""
    target = target or targets.load(settings)
    stage = state.current_stage(settings.deploy_dir)
    try:
        done = run.decommission(settings, target.routed, client=target.client, **options)
    except Refused as exc:
        if not options.get("dry_run"):
            alerting.event(settings, "decommission", "WARNING", stage, ("decommission_refused", {"what": exc.what}))
        raise
    if done and not options.get("dry_run") and done.get("bytes_freed") is not None:
        alerting.event(settings, "decommission", "OK", stage,
                       ("decommissioned", {"container": settings.local_llm.container,
                                           "gb": f"{done['bytes_freed'] / 1e9:.2f}"}))
    return done


def _decommission(settings: Settings, target: targets.Target, stage: Stage, out) -> None:
    out("decommissioning the local LLM now that the stage is verified:")
    try:
        decommission(settings, target, yes=True, force=False, out=out, locked=True)
    except MigrationError as exc:
        exc.hint = (f"stage {stage.number} itself is applied and verified; finish with `invoke "
                    f"decommission` once this is fixed" + (f" ({exc.hint})" if exc.hint else ""))
        raise
