"""The `fleet.*` tasks' work (issue 25): load the inventory, ask every host, show the plan, move,
and the fleet's status and health tables. tasks.py only parses flags and calls these. Each takes
a ``remote`` (a fleet.remote.Remote by default; tests give a fake): status, ask, health and close,
which runs once whatever happens."""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import yaml

from checks.model import Status, worst
from core import version
from core.errors import ConfigError, Refused
from fleet import inventory as inventories, plan as planning, record, rollout
from fleet.remote import Remote, number



def load(config_fleet, path: str | None) -> inventories.Inventory:
    """``--inventory FILE`` (its ``fleet:``, or ``migrate.fleet``), else ``migrate.fleet`` of the config."""
    if path:
        file = Path(path).expanduser()
        try:
            data = yaml.safe_load(file.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read the inventory: {exc.strerror or exc}", where=str(file),
                              hint="name a readable YAML file with --inventory") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"the inventory is not YAML: {str(exc)[:200]}", where=str(file)) from None
        if isinstance(data, dict) and isinstance(data.get("migrate"), dict) and "fleet" in data["migrate"]:
            data = data["migrate"]
        if not isinstance(data, dict) or "fleet" not in data:
            raise ConfigError("no fleet: section", where=str(file), hint="see README, \"Many hosts\"")
        return inventories.read(data["fleet"], where=f"{file}: fleet", base=file.parent)
    if not config_fleet:
        raise ConfigError("no inventory", where="migrate.fleet",
                          hint="name one with --inventory FILE, or set migrate.fleet (README, \"Many hosts\")")
    return inventories.read(config_fleet, base=Path.cwd())


def move(inv: inventories.Inventory, stage: int, *, task: str = "phase", dry_run: bool = False, yes: bool = False,
         confirm=None, out=print, remote=None, poll: int = 15) -> int:
    with contextlib.nullcontext() if dry_run else record.locked(inv.record), \
            contextlib.closing(remote or Remote(inv)) as remote:
        plan = rollout.preflight(inv, remote, stage, version.toolkit(), backward=task == "rollback")
        out(planning.describe(plan))
        if plan.refusals:
            raise Refused("the fleet rollout is refused", where=str(inv.record.parent),
                          detail="\n".join(plan.refusals), hint="nothing was changed on any host")
        if plan.nothing_to_do:
            return 0
        if dry_run:
            out("dry run: nothing was changed on any host")
            return 0
        if not yes and not (confirm and confirm(f"move {sum(map(len, plan.batches))} host(s) to stage {stage}?")):
            out("not confirmed: nothing was changed")
            return 1
        return rollout.run(inv, plan, remote, task=task, out=out, poll=poll)


def status(inv: inventories.Inventory, *, out=print, remote=None) -> int:
    """A table: host, target, stage, since, last health, pending, and the fleet record's last outcome."""
    with contextlib.closing(remote or Remote(inv)) as remote:
        answers = rollout.each(lambda name: remote.status(inv.hosts[name]), inv.hosts)
    try:
        outcomes = record.last_outcomes(record.load(inv.record))
    except ConfigError as exc:   # the hosts' own answers still make the table
        out(f"warning: {exc.what} ({exc.where}): the last fleet run's outcomes are not shown")
        outcomes = {}
    rows = [("host", "target", "stage", "since", "last health", "pending", "last fleet run")]
    for name, now in answers.items():
        if now.problem:
            rows.append((name, "?", "?", "", f"cannot ask: {now.problem}", "", _outcome(outcomes.get(name))))
            continue
        health = now.last_health or {}
        rows.append((name, now.target, "?" if now.stage is None else str(now.stage), _when(now.since),
                     f"{health.get('status', 'none')} {_when(health.get('time'))}".strip(),
                     f"to {now.pending.get('to')}" if now.pending else "",
                     _outcome(outcomes.get(name))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 3 if any(now.problem for now in answers.values()) else 0


def health(inv: inventories.Inventory, *, as_json: bool = False, out=print, remote=None) -> int:
    """Every host's `invoke health`, aggregated with the monitoring-plugin codes (the worst wins;
    a host that cannot be asked is UNKNOWN)."""
    def one(host):
        try:
            code, report = remote.health(host)
        except Exception as exc:   # one host's failure is that host's UNKNOWN, never the fleet's crash
            return {"status": "UNKNOWN", "error": rollout.why(exc)}
        if isinstance(report.get("status"), str) and report["status"] in Status.__members__:
            return report
        return {"status": "UNKNOWN", "error": f"exit {code}, no report"}
    with contextlib.closing(remote or Remote(inv)) as remote:
        reports = rollout.each(lambda name: one(inv.hosts[name]), inv.hosts)
    status = worst(Status[r["status"]] for r in reports.values()).name   # CRITICAL ranks above UNKNOWN
    code = Status[status].value
    if as_json:
        out(json.dumps({"status": status, "exit_code": code, "hosts": reports}, ensure_ascii=False, indent=2))
        return code
    for name, report in reports.items():
        failing = [f"{c.get('name', '?')} {c.get('status')}" for c in report.get("checks", [])
                   if isinstance(c, dict) and c.get("status") != "OK"]
        out(f"{name}: {report['status']}" + (f" ({', '.join(failing)})" if failing else "")
            + (f": {report['error']}" if report.get("error") else ""))
    out(f"fleet: {status} ({len(reports)} host(s))")
    return code


def unknown(exc, *, as_json: bool, out=print) -> None:
    """fleet.health's answer when it cannot ask anyone (the inventory): UNKNOWN, said."""
    if as_json:
        out(json.dumps({"status": "UNKNOWN", "exit_code": 3, "error": exc.message}, ensure_ascii=False))
    else:
        out(f"fleet: UNKNOWN: {exc.message}")


def _when(epoch) -> str:
    """An epoch as local time; "" for what is not one (a host's answer is read, never trusted)."""
    if not number(epoch):
        return ""
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))
    except (OverflowError, ValueError, OSError):   # finite, but beyond what the platform's time holds
        return ""


def _outcome(outcome: dict | None) -> str:
    return f"{outcome['result']} (stage {outcome['stage']}, {_when(outcome.get('at'))})" if outcome else ""
