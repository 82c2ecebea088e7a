"""The `fleet.*` tasks' work in fleet/run.py against a fake fleet: the plan before any move, a dry
run and an unconfirmed one that change nothing, a refusal, the status table, the aggregated
health; the SSH connections closed whatever happens."""
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import LockHeld, Refused
from fleet import record, run

from .test_rollout import Fleet, inv

SINCE = 1796585880.0   # an epoch, as a host's `status --json` gives it


class Hosts(Fleet):
    """The fake fleet, also answering `status --json` and `health` with an error, and counting closes."""

    def __init__(self, *a, broken_health=(), last_health=None, odd=None, **kw):
        super().__init__(*a, **kw)
        self.odd = odd or {}
        self.broken_health, self.last_health, self.closed = set(broken_health), last_health, 0

    def status(self, host):
        now = super().status(host)
        return now if now.problem else replace(now, since=SINCE, last_health=self.last_health)

    def health(self, host):
        if host.name in self.broken_health:
            raise RuntimeError("the channel closed")
        if host.name in self.unreachable:
            return 255, {}
        if host.name in self.odd:
            return 1, self.odd[host.name]
        return super().health(host)

    def close(self):
        self.closed += 1


@pytest.fixture(autouse=True)
def same_version(monkeypatch):
    monkeypatch.setattr(run.version, "toolkit", lambda: "1.0")


@pytest.mark.parametrize("how, code, said", [
    ({"dry_run": True}, 0, "dry run: nothing was changed on any host"),
    ({"confirm": lambda q: False}, 1, "not confirmed: nothing was changed"),
    ({}, 1, "not confirmed: nothing was changed"),          # no --yes and no terminal to ask
])
def test_the_plan_is_shown_and_nothing_moves_without_a_yes(tmp_path, how, code, said):
    fleet, lines = Hosts(), []
    assert run.move(inv(tmp_path), 2, out=lines.append, remote=fleet, **how) == code
    assert lines[0].startswith("fleet -> stage 2 (toolkit 1.0):") and "  canary: h1" in lines[0]
    assert lines[-1] == said and not [c for c in fleet.calls if c[1][0] == "phase"] and fleet.closed == 1
    assert not (tmp_path / "fleet-record.json").exists()


def test_a_refused_rollout_moves_nothing_and_still_closes_the_connections(tmp_path, monkeypatch):
    monkeypatch.setattr(run.version, "toolkit", lambda: "2.0")
    fleet = Hosts()
    with pytest.raises(Refused) as err:
        run.move(inv(tmp_path), 2, yes=True, out=lambda line: None, remote=fleet)
    assert "nothing was changed on any host" in err.value.message and "1.0" in err.value.message
    assert fleet.stage == {n: 1 for n in fleet.stage} and fleet.closed == 1


def test_with_yes_it_moves_and_returns_the_rollouts_code(tmp_path):
    fleet, lines = Hosts(), []
    assert run.move(inv(tmp_path), 2, yes=True, out=lines.append, remote=fleet, poll=0) == 0
    assert set(fleet.stage.values()) == {2} and fleet.closed == 1


def test_the_status_table_has_a_row_per_host_and_an_unreachable_one_says_so(tmp_path):
    fleet, lines = Hosts(unreachable={"h3"}, last_health={"status": "OK", "time": SINCE + 60}), []
    assert run.status(inv(tmp_path), out=lines.append, remote=fleet) == 3
    header, *rows = lines
    assert header.split() == ["host", "target", "stage", "since", "last", "health", "pending", "last", "fleet", "run"]
    assert [r.split()[0] for r in rows] == ["h1", "h2", "h3", "h4", "h5"]
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(SINCE)).split()
    assert rows[0].split()[:7] == ["h1", "compose-env", "1", *since, "OK", since[0]]
    assert "cannot ask: unreachable: timed out" in rows[2] and fleet.closed == 1


@pytest.mark.parametrize("when", [1e300, -1e300, "yesterday", None, True])
def test_a_last_health_time_that_is_no_time_leaves_its_cell_empty(tmp_path, when):
    lines = []
    assert run.status(inv(tmp_path), out=lines.append, remote=Hosts(last_health={"status": "OK", "time": when})) == 0
    assert len(lines) == 6 and lines[1].split()[5:] == ["OK"], lines[1]


def test_the_status_table_still_comes_when_the_fleet_record_is_unreadable(tmp_path):
    (tmp_path / "fleet-record.json").write_text("{not json")
    lines = []
    assert run.status(inv(tmp_path), out=lines.append, remote=Hosts()) == 0
    assert lines[0].startswith("warning:") and "outcomes are not shown" in lines[0] and len(lines) == 7


@pytest.mark.parametrize("hosts, worst, code", [
    (Hosts(), "OK", 0),
    (Hosts(critical={"h2"}), "CRITICAL", 2),
    (Hosts(unreachable={"h4"}), "UNKNOWN", 3),            # no report: UNKNOWN, never OK
    (Hosts(broken_health={"h5"}), "UNKNOWN", 3),
    (Hosts(broken_health={"h5"}, critical={"h1"}), "CRITICAL", 2),   # a known failure outranks a host not asked
    (Hosts(unreachable={"h2"}, critical={"h1"}), "CRITICAL", 2),
    (Hosts(odd={"h3": {"status": ["OK"]}}), "UNKNOWN", 3),          # a report that is not one
    (Hosts(odd={"h3": {"status": "WARNING", "checks": []}}), "WARNING", 1),
])
def test_health_is_the_worst_of_the_hosts(tmp_path, hosts, worst, code):
    lines = []
    assert run.health(inv(tmp_path), out=lines.append, remote=hosts) == code
    assert lines[-1] == f"fleet: {worst} (5 host(s))" and len(lines) == 6 and hosts.closed == 1
    doc = []
    run.health(inv(tmp_path), as_json=True, out=doc.append, remote=hosts)
    report = json.loads(doc[0])
    assert report["status"] == worst and report["exit_code"] == code and set(report["hosts"]) == set(hosts.stage)


def test_a_host_whose_health_cannot_be_asked_is_named_with_why(tmp_path):
    lines = []
    run.health(inv(tmp_path), out=lines.append, remote=Hosts(broken_health={"h5"}, critical={"h1"}))
    assert "h1: CRITICAL (api.generate CRITICAL)" in lines and "h5: UNKNOWN: the channel closed" in lines


def test_a_second_rollout_on_the_same_record_is_refused_at_once_and_moves_nothing(tmp_path):
    """Two shells, or cron and a person: the second is refused naming the first's pid; a dry run
    still shows the plan; a lock file left by a killed run stops nobody."""
    i, fleet = inv(tmp_path), Hosts()
    with record.locked(i.record):
        with pytest.raises(LockHeld, match=f"another run holds the lock \\(pid {os.getpid()}\\)") as err:
            run.move(i, 2, yes=True, out=lambda line: None, remote=fleet)
        assert err.value.where == f"{i.record}.lock"
        assert run.move(i, 2, dry_run=True, out=lambda line: None, remote=fleet) == 0
    assert not [c for c in fleet.calls if c[1][0] == "phase"] and not i.record.exists()
    assert run.move(i, 2, yes=True, out=lambda line: None, remote=fleet, poll=0) == 0
    assert set(fleet.stage.values()) == {2} and Path(f"{i.record}.lock").read_text() == ""
