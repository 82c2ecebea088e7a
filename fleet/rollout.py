"""A fleet rollout (issue 25): every host asked where it is, the plan shown, then the canary moved
alone and gated by its own health, then the batches, each host's move in parallel; no new host is
started once ``stop_after`` failures are counted, and the run says where every host is. Each
host's outcome goes into the record as it comes. ``remote`` is anything with ``status(host)`` and
``ask(host, *args)`` and ``health(host)`` (fleet/remote.py over SSH; a fake in the unit tests)."""
from __future__ import annotations

import concurrent.futures
import time

from core.secrets import mask_key_shapes
from fleet import plan as planning, record
from fleet.inventory import Inventory

EXIT = {0: "moved", 2: "refused", 4: "locked", 5: "refused by its stage gate", 6: "rolled back"}
POOL = 16   # hosts handled at once, at most


def each(work, items) -> dict:
    """``work(item)`` for every item, at most POOL at once: item -> its result, in their order."""
    items = list(items)
    if not items:
        return {}
    with concurrent.futures.ThreadPoolExecutor(min(POOL, len(items))) as pool:
        return dict(zip(items, pool.map(work, items)))


def why(exc: BaseException) -> str:
    """What went wrong, in a line: a MigrationError's own words, else the exception's."""
    return str(getattr(exc, "what", None) or exc)


def preflight(inventory: Inventory, remote, stage: int, version: str, *, backward: bool = False) -> planning.Rollout:
    """Every host asked at once (`status --json`), then the pure plan (the record's outcomes read)."""
    now = each(lambda name: remote.status(inventory.hosts[name]), inventory.hosts)
    return planning.make(inventory, stage, now, version, backward=backward,
                         outcomes=record.last_outcomes(record.load(inventory.record)))


def run(inventory: Inventory, rollout: planning.Rollout, remote, *, task: str = "phase", out=print,
        sleep=time.sleep, clock=time.time, poll: int = 15) -> int:
    """Carry the rollout out; 0 when every host is at the stage, 1 otherwise. A run stopped by an
    error or Ctrl-C is recorded as interrupted."""
    data = record.start(inventory.record, rollout.stage, task, rollout.batches)
    try:
        return _run(inventory, rollout, remote, data, task, out, sleep, clock, poll)
    except BaseException:
        record.finish(inventory.record, data, "interrupted")
        raise


def _run(inventory, rollout, remote, data, task, out, sleep, clock, poll) -> int:
    failures, done = [], list(rollout.there)
    for name, why in rollout.blocked.items():
        record.host(inventory.record, data, name, "cannot move", reason=why)
        failures.append(name)
    if rollout.regate:
        out(f"gating again first: {', '.join(rollout.regate)}")
        for name, (passed, why) in _gates(inventory, remote, rollout.regate, sleep, clock, poll).items():
            out(f"  {name}: gate {'passed' if passed else 'FAILED'}: {why}")
            record.host(inventory.record, data, name, "moved" if passed else planning.GATE_FAILED, reason=why)
            (done if passed else failures).append(name)
    canary_failed = any(name in failures for name in rollout.regate if name in inventory.canary)
    for i, batch in enumerate(rollout.batches):
        if len(failures) >= inventory.stop_after or canary_failed:
            break
        if i and inventory.pause:
            out(f"pausing {inventory.pause} s before the next batch")
            sleep(inventory.pause)
        is_canary = i == 0 and bool(rollout.canary)
        out(f"{planning.label(rollout, i)}: {', '.join(batch)} -> stage {rollout.stage}")
        args = (["phase", "--stage", str(rollout.stage)] if task == "phase" else ["rollback", "--to", str(rollout.stage)])
        moves = each(lambda n: _move(remote, inventory.hosts[n], args), batch)
        moved = []
        for name, (code, summary, started) in moves.items():
            result = EXIT.get(code, "failed")
            out(f"  {name}: {result} (exit {code}): {summary}")
            record.host(inventory.record, data, name, result, exit=code, summary=summary, started=started)
            (moved if code == 0 else failures).append(name)
        for name, (passed, why) in _gates(inventory, remote, moved, sleep, clock, poll).items():
            out(f"  {name}: gate {'passed' if passed else 'FAILED'}: {why}")
            if passed:
                done.append(name)
            else:
                failures.append(name)
                record.host(inventory.record, data, name, planning.GATE_FAILED, reason=why,
                            exit=moves[name][0], summary=moves[name][1])
        canary_failed = is_canary and any(name in failures for name in batch)
    waiting = [n for n in inventory.hosts if n not in done and n not in failures]
    if waiting and (canary_failed or len(failures) >= inventory.stop_after):
        out(f"stopped: {len(failures)} failure(s) ({', '.join(failures)}), "
            + ("the canary failed" if canary_failed else f"the budget is {inventory.stop_after}")
            + f"; not started: {', '.join(waiting)}")
    out(f"at stage {rollout.stage}: {', '.join(done) or 'none'}"
        + (f"; failed: {', '.join(failures)}" if failures else "")
        + (f"; not started: {', '.join(waiting)}" if waiting else ""))
    result = "done" if not failures and not waiting else "stopped"
    record.finish(inventory.record, data, result)
    if result != "done":
        out("next: on each failed host, `invoke status` and `invoke health` say why (a move its own gates or "
            "verification refused changed nothing there, or was rolled back; a host whose health gate failed "
            "after its move is at the stage); fix it, then run the same command again: it gates those hosts "
            "again and continues with the hosts not at the stage")
    return 0 if result == "done" else 1


def _gates(inventory, remote, names, sleep, clock, poll) -> dict[str, tuple[bool, str]]:
    return each(lambda n: _gate(inventory, remote, n, sleep, clock, poll), names)


def _move(remote, host, args) -> tuple[int, str, float]:
    started = time.time()
    try:
        answer = remote.ask(host, *args, "--yes", "--json")
    except Exception as exc:   # a host that drops mid-move is a failure of that host, never of the run
        return 255, mask_key_shapes(why(exc)), started
    summary = answer.data.get("summary") or answer.tail   # the host masked its own key; this, any key's shape
    return answer.code, mask_key_shapes(str(summary))[:300], started


def _gate(inventory: Inventory, remote, name: str, sleep, clock, poll: int) -> tuple[bool, str]:
    """The host's own health after its move: ``health_records`` OK runs of `invoke health` there
    (each one recorded in its history) within ``timeout``; a CRITICAL fails at once. Or a fixed wait."""
    gate, host = inventory.gate, inventory.hosts[name]
    if gate.wait or not gate.health_records:
        sleep(gate.wait)
        return True, f"waited {gate.wait} s"
    deadline, ok = clock() + gate.timeout, 0
    while True:
        report = {}
        try:
            code, report = remote.health(host)
            status = str(report.get("status") or {0: "OK", 1: "WARNING", 2: "CRITICAL"}.get(code, "UNKNOWN"))
        except Exception as exc:
            status = f"UNKNOWN ({why(exc)})"
        if status == "CRITICAL":
            failing = ", ".join(str(c.get("name", "?")) for c in report.get("checks", [])
                                if isinstance(c, dict) and c.get("status") == "CRITICAL")
            return False, "health is CRITICAL" + (f": {failing}" if failing else "")
        ok = ok + 1 if status == "OK" else 0
        if ok >= gate.health_records:
            return True, f"{ok} OK health run(s) in a row since its move"
        if clock() >= deadline:
            return False, f"{ok} OK health run(s) in a row within {gate.timeout} s, need {gate.health_records} (last: {status})"
        sleep(poll)
