"""The way back when the API fails after the cut-over (the seed's "offline: unusable"): every chat
on the local model at once, then back to the stage it left once the API answers again.

`invoke outage` at the cut-over stage puts the local model back in its store (the quarantined
copy, checked whole) when it is not there, and moves the stack through the same engine as every
stage to the outage stage (config.OUTAGE: weights qwen:0,local:100 on the seed's stack; the local
entry selected on the upstream server), verified, recorded and alerted like any move.
`invoke outage --end` checks that the API answers, then moves back to the stage the outage left
(recorded as its `previous`), whose decommission then runs again as after any cut-over."""
from __future__ import annotations

import dataclasses

import time

from checks import gates as gating
from core import state
from core.config import OUTAGE, Settings
from core.errors import GateFailed, Refused
from decommission import quarantine
from orchestration import move, targets


def start(settings: Settings, *, dry_run: bool = False, yes: bool = False, confirm=None, out=print):
    d = settings.deploy_dir
    current = state.current_stage(d)
    if current == OUTAGE:
        out(f"already in an outage since {(state.read(d) or {}).get('since')}: every chat is on the local model; "
            "`invoke outage --end` goes back once the API answers")
        return None
    if current is None or settings.stage(current).local_llm:
        raise Refused(f"the outage plan is for the stage without the local model; the stack is at stage {current}, "
                      "where the local model still takes its share", where="invoke outage",
                      hint="`invoke rollback --to 0` (or the stage you want) moves traffic back to it; nothing was changed")
    began = time.monotonic()
    target = targets.load(settings)
    where, problems = target.needs_local_model(settings.outage)
    if problems and settings.local_llm.on_host:
        raise Refused(f"the host's Ollama has no whole {settings.local_llm.model} ({where}): the toolkit kept no copy "
                      "of a model it did not deploy", where="migrate.local_llm.runs_on",
                      hint=f"`ollama pull {settings.local_llm.model}` on this host (or put back the copy you kept), "
                           "then run `invoke outage` again; nothing was changed")
    if problems:
        out(f"the local model {settings.local_llm.model} is not in its store ({where}): putting back the quarantined copy")
        if dry_run:
            out("dry run: `invoke decommission.restore` would put it back first")
        else:
            quarantine.restore(settings, None, yes=yes, confirm=confirm, out=out)
    # The API fails now: conversations are failing already, so a server restart does not wait for
    # quiet (as a rollback after a failed verification does not): --force, which the audit log records.
    urgent = dataclasses.replace(settings, gates=dataclasses.replace(settings.gates, quiet_wait=0))
    outcome = move.phase(urgent, OUTAGE, dry_run=dry_run, yes=yes, confirm=confirm, out=out, backward_ok=True,
                         force=True)
    if outcome.applied:
        out(f"outage: every chat now goes to the local model ({time.monotonic() - began:.1f} s after the command); "
            f"`invoke outage --end` returns to stage {current} once the API answers")
    return outcome


def end(settings: Settings, *, dry_run: bool = False, yes: bool = False, confirm=None, out=print):
    d = settings.deploy_dir
    recorded = state.read(d) or {}
    if recorded.get("stage") != OUTAGE:
        raise Refused(f"not in an outage (the stack is at stage {recorded.get('stage')})", where="invoke outage --end",
                      hint="nothing to end; nothing was changed")
    back = recorded.get("previous")
    if back is None or back not in settings.stages:
        raise Refused("the state does not say which stage the outage left", where=str(d / state.STATE),
                      hint="move on with `invoke phase --stage N --force`")
    stage = settings.stage(back)
    results = gating.run(settings, ["key", "api"], OUTAGE, recorded.get("since"))
    for g in results:
        out(f"  gate {g.name}: {'passed' if g.passed else 'FAILED'}: {g.detail}")
    failed = [g for g in results if not g.passed]
    if failed:
        raise GateFailed("the API does not answer yet: the stack stays on the local model", where="invoke outage --end",
                         detail="\n".join(g.detail for g in failed), hint="try again once `invoke health` shows api.* OK")
    # The gates of a forward move to the cut-over (a week of history) were passed when it was first
    # reached; the API answering now is what matters: --force, which the audit log records.
    return move.phase(settings, stage.number, dry_run=dry_run, yes=yes, force=True, confirm=confirm, out=out,
                      backward_ok=True)
