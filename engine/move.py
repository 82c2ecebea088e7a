"""One stage move for every kind of stack. The engine refuses what cannot work, shows the gates,
backs up what the stage changes, marks the move pending, has the target write and converge,
verifies, rolls back by itself on failure, records the stage and re-plans to prove it converged.
It knows no kind of stack: each step that touches one is the target's (``Steps``). The lock, the
questions and the decommission after the cut-over are orchestration's (move.py); every step goes
to the audit log."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from checks import gates as gating
from core import state
from core.config import Settings, Stage
from core.errors import ConfigError, GateFailed, MigrationError, Refused, VerifyFailed
from core.files import check_key_path, check_private_dir
from engine import backup, changes
from engine.changes import Change, RowsChange


@dataclass
class Outcome:
    plan: Any
    gates: list = field(default_factory=list)
    applied: bool = False
    deletes_bytes: int = 0     # model bytes the decommission that follows will delete for good


class Steps(Protocol):
    """What a target does at each step of a move; the engine calls them in order."""

    def changes(self, plan) -> tuple[Change, ...]:
        """What the stage may change (engine/changes.py): the files, relative to the deploy dir,
        and the row sets with their before- and after-images. The engine backs them up before
        ``write`` and puts them back on a failure (the state file is the engine's own)."""

    def restore_rows(self, change: RowsChange) -> list:
        """Put a row set's before-images back, compare-and-swap: a row at its after-image is
        written back, one already at its before-image is left; one that is at neither was changed
        by someone since the plan (the console): it is never overwritten, and its key is returned
        (called only for a target whose ``changes`` lists rows)."""

    def audit(self, plan) -> dict:
        """What the audit log's apply-start entry says of the plan (what restarts, what is created)."""

    def write(self, plan) -> None:
        """The stage's files and rows in place (rows compare-and-swap on their before-images).
        Raises Refused, having written nothing, when a row changed since the plan."""

    def converge(self, plan, out) -> float | None:
        """The running stack onto what was written; how long a restarted service was away, if one was."""

    def verify(self) -> list[str]:
        """What is wrong with the stack at the stage (empty: verified)."""

    def reapply(self, old_state: dict, plan, out) -> None:
        """After the backup is put back: the running stack onto it again."""

    def applied(self, away: float | None) -> dict:
        """What the audit log's applied entry adds (how long a restarted service was away)."""

    def recorded(self, plan, old_state: dict) -> dict:
        """The target's own fields of the state file once the stage is applied."""

    def replan(self):
        """The plan observed anew, for the same stage: it must have nothing left to do."""

    def unconverged(self, plan) -> bool:
        """Whether a plan (the re-plan) still has something to change."""

    def describe(self, plan) -> str:
        """The plan in words, its secrets masked."""

    def done(self, away: float | None) -> str:
        """The line that says the stage is applied and verified."""


def preflight(settings: Settings, target: Stage, dry_run: bool, uses_api: bool | None = None,
              secret_files=frozenset()) -> None:
    """Refuse, before any change, what cannot work. ``uses_api``: the stage needs the key (as the
    target reads the stage; by default its weights say). ``secret_files``: the target's files that
    hold a key (every folder on their path, and the backups folder, must be private)."""
    if (target.uses_api if uses_api is None else uses_api) and not settings.api_key:
        # Rendering without a key would blank the deployed one while the API still gets traffic.
        raise ConfigError(f"stage {target.number} sends traffic to the API and no key was found "
                          f"({settings.key_source})", where="QWEN_API_KEY / DASHSCOPE_API_KEY",
                          hint="export QWEN_API_KEY=... (or DASHSCOPE_API_KEY), or `sudo -E`, and run again; "
                               "nothing was changed")
    d = settings.deploy_dir
    if not d.is_dir():
        raise MigrationError("the deploy directory does not exist", where=str(d),
                             hint="create it, or set migrate.deploy_dir (in sandbox.yaml: run sandbox.up first)")
    for name in sorted(secret_files):
        check_key_path(d, name)
    check_private_dir(d / backup.ROOT, what=f"the backups folder ({backup.ROOT}/ in the deploy directory)")
    if not dry_run and not os.access(d, os.W_OK):
        raise MigrationError("the deploy directory is not writable", where=str(d),
                             hint="run as its owner or with sudo")


def settled(plan, target: Stage, force: bool, out) -> bool:
    """True when the stage is already in place (said so); raises Refused for a refusal not forced."""
    if plan.nothing_to_do:
        out(f"already at stage {target.number}, nothing to do")
        return True
    if plan.refusals and not force:
        raise Refused("; ".join(plan.refusals), where=f"stage {plan.recorded} -> {target.number}",
                      hint="move one stage at a time, or pass --force (the audit log records it)")
    return False


def run_gates(settings: Settings, names: list[str], recorded, since, target: Stage, force: bool, out) -> list:
    """The gates' results, each shown; raises GateFailed when one failed (unless forced)."""
    results = gating.run(settings, names, recorded, since)
    for g in results:
        out(f"  gate {g.name}: {'passed' if g.passed else 'FAILED'}: {g.detail}")
    failed = [g for g in results if not g.passed]
    if failed and not force:
        raise GateFailed(f"gate {', '.join(g.name for g in failed)} failed", where=f"stage {target.number}",
                         detail="\n".join(g.detail for g in failed),
                         hint="fix what the gate reports, or pass --force to override (audited)")
    if failed:
        out(f"  --force: proceeding past failed gate(s) {', '.join(g.name for g in failed)}")
    return results


def apply(settings: Settings, target: Stage, outcome: Outcome, steps: Steps, force: bool, out) -> None:
    """Back up, mark pending, write, converge, verify; on failure put the backup back and raise
    VerifyFailed; else record the stage and re-plan (it must be empty). A write the target refuses
    (``Refused``: a row changed since the plan) changed nothing: the mark is taken back and the
    refusal raised, with no restart."""
    plan, d = outcome.plan, settings.deploy_dir
    old_state = state.read(d) or {}
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    changed = steps.changes(plan)
    if changes.rows(changed) and not callable(getattr(steps, "restore_rows", None)):
        raise MigrationError(f"the {type(steps).__name__} steps change rows but cannot put them back",
                             where="Steps.restore_rows", hint="a target that lists rows must restore them: "
                                                              "nothing was changed")
    try:
        saved = backup.save(d, settings.gates.keep_backups, (*changes.files(changed), state.STATE),
                            label=f"to-{target.number}", rows=changes.rows(changed))
        doing = changes.summary(changed)
        state.write(d, **{**old_state, "pending": {"to": target.number, "started": started, "backup": saved.name,
                                                   "changes": doing}})
        state.audit(d, "apply-start", **{"from": plan.recorded, "to": target.number, "forced": force,
                                         "failed_gates": [g.name for g in outcome.gates if not g.passed],
                                         "backup": saved.name, "changes": doing, **steps.audit(plan)})
    except OSError as exc:
        raise MigrationError(f"cannot prepare the change: {os_problem(exc)}", where=str(d),
                             hint="free space in the deploy directory's filesystem (`df -h`), then run again; "
                                  "the deployed files were not changed") from None
    away, problems, written = None, [], False
    try:
        steps.write(plan)
        written = True
        away = steps.converge(plan, out)
        problems = steps.verify()
    except Refused as exc:
        if not written:   # the target refused its own write: nothing changed
            refused(d, saved, changes.files(changed), old_state, plan.recorded, target, exc, out)
        problems = [exc.message]
    except MigrationError as exc:
        problems = [exc.message]
    except OSError as exc:  # a full disk, a read-only remount: the change is half made
        problems = [f"writing the stage's files failed: {os_problem(exc)}"]
    if problems:
        roll_back(d, saved, changes.files(changed), old_state, plan.recorded, target, problems, out,
                  reapply=lambda: steps.reapply(old_state, plan, out),
                  restore_rows=steps.restore_rows if changes.rows(changed) else None)
    # Re-applying the stage (a drift repair) keeps when it began: the stage-3 gate counts the
    # health records since then. ``applied`` says when its files were last put in place.
    same = plan.recorded == target.number and old_state.get("since")
    state.write(d, stage=target.number, since=old_state["since"] if same else time.time(), applied=time.time(),
                previous=old_state.get("previous") if same else plan.recorded, **steps.recorded(plan, old_state))
    state.audit(d, "applied", **{"from": plan.recorded, "to": target.number, "forced": force, "result": "ok",
                                 **steps.applied(away)})
    again = steps.replan()
    if steps.unconverged(again):
        raise MigrationError("applied, but the stage is still not converged", detail=steps.describe(again),
                             hint="run the same command again; if it persists, `invoke status` shows what differs")
    out(steps.done(away))


def skipped(recorded: int | None, target: Stage) -> str:
    """The refusal of a forward move past a stage ('' when it moves one stage, or back)."""
    if recorded is None or target.number - recorded <= 1:
        return ""
    return (f"stage {recorded} -> {target.number} skips "
            f"{', '.join(str(n) for n in range(recorded + 1, target.number))}: move one stage at a time, or pass --force")


def os_problem(exc: OSError) -> str:
    return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")


def refused(d: Path, saved: Path, names, old_state: dict, recorded, target: Stage, exc: Refused, out) -> None:
    """The target refused its own write before changing anything (a row someone changed since the
    plan): the files are checked back against the backup, the mark is taken back, the refusal is
    audited and raised as it is (exit 2). Nothing restarts: nothing reached the running stack."""
    out(f"the change was refused before anything was written: {exc.what}")
    try:
        backup.restore(saved, d, names)
        state.write(d, **{k: v for k, v in old_state.items() if k != "pending"})
        state.audit(d, "refused", **{"from": recorded, "to": target.number, "result": "refused",
                                     "problems": [exc.what]})
    except (OSError, MigrationError) as failure:
        out(f"taking the pending mark back failed: {failure}; the next run converges from {saved}")
    raise exc


def roll_back(d: Path, saved: Path, names, old_state: dict, recorded, target: Stage, problems: list[str], out,
              reapply, restore_rows=None) -> None:
    """Put the backup's ``names`` back, and its row sets through ``restore_rows`` (the target's
    compare-and-swap writer), ``reapply()`` them to the containers, restore the state and say so in
    the audit log, then raise VerifyFailed. Every step is attempted whatever the one before it did:
    a full disk must not stop the containers from being put back. What did not work is said, never
    swallowed."""
    failures = []
    out("the change failed:\n  " + "\n  ".join(problems) + f"\nrolling back to the files in {saved}")
    try:
        backup.restore(saved, d, names)
    except backup.RestoreFailed as exc:
        failures.append("restoring the files failed: " + exc.message.replace("\n", "; "))
    except OSError as exc:
        failures.append(f"restoring the files failed: {os_problem(exc)}; copy them back from {saved} by hand")
    files_back = not failures   # the containers are put back onto restored files only
    if restore_rows is not None:
        try:
            for rows in reversed(backup.saved_rows(saved)):   # the last written, the first put back
                left = list(restore_rows(rows) or ())
                out(f"restored {len(rows.before) - len(left)} row(s) of {rows.table}"
                    + (f"; left {', '.join(map(str, left))} as someone changed them since the plan" if left else ""))
        except MigrationError as exc:
            failures.append("restoring the rows failed: " + exc.message.replace("\n", "; "))
        except Exception as exc:   # a database's own error: said, and the rest of the rollback still runs
            failures.append(f"restoring the rows failed: {type(exc).__name__}: {exc}")
    if files_back:
        try:
            reapply()
        except MigrationError as exc:
            failures.append(f"re-applying the backup failed too: {exc.message}")
    try:
        state.write(d, **{k: v for k, v in old_state.items() if k != "pending"})
        state.audit(d, "rolled-back", **{"from": recorded, "to": target.number, "result": "failed",
                                         "problems": problems, "rollback_failures": failures,
                                         "restored": not failures})
    except OSError as exc:
        failures.append(f"the state file and audit log could not be written: {os_problem(exc)}")
    for failure in failures:
        out(failure)
    raise VerifyFailed(f"stage {target.number} failed and was rolled back"
                       + ("" if not failures else " only in part: " + "; ".join(failures)),
                       where=str(d), detail="\n".join(problems),
                       hint="read the problems above; `invoke status` shows where things stand")
