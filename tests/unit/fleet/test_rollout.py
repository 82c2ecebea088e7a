"""Issue 25's rollout loop against a fake fleet: the canary alone and gated first, then batches;
a failure budget that stops new hosts; an unreachable host counted, never skipped; a rerun that
continues; and the record of each host's outcome."""
import json

import pytest

from fleet import inventory, plan, record, rollout
from fleet.remote import Answer

HOSTS = {f"h{i}": {"host": f"10.0.0.{i}"} for i in range(1, 6)}


class Fleet:
    """Hosts at a stage; `phase` moves one unless it is told to fail; `health` says what it is told."""

    def __init__(self, stage=1, fail=(), critical=(), unreachable=()):
        self.stage = {n: stage for n in HOSTS}
        self.fail, self.critical, self.unreachable = set(fail), set(critical), set(unreachable)
        self.calls = []

    def status(self, host):
        if host.name in self.unreachable:
            return plan.HostNow(host.name, problem="unreachable: timed out")
        return plan.HostNow(host.name, version="1.0", target="compose-env", stage=self.stage[host.name])

    def ask(self, host, *args, timeout=3600):
        self.calls.append((host.name, args))
        if host.name in self.fail:
            return Answer(6, {"summary": "stage 2 failed and was rolled back"}, "rolled back")
        self.stage[host.name] = int(args[2])
        return Answer(0, {"summary": f"stage {args[2]} applied and verified"}, "")

    def health(self, host):
        self.calls.append((host.name, ("health",)))
        if host.name in self.critical:
            return 2, {"status": "CRITICAL", "checks": [{"name": "api.generate", "status": "CRITICAL"}]}
        return 0, {"status": "OK", "checks": []}


def inv(tmp_path, **more):
    return inventory.read({"hosts": HOSTS, "canary": ["h1"], "batch": 2, "gate": {"health_records": 2, "timeout": 60},
                           **more}, base=tmp_path)


def go(i, fleet, lines):
    r = rollout.preflight(i, fleet, 2, "1.0")
    return rollout.run(i, r, fleet, out=lines.append, sleep=lambda s: None, poll=0)


def moves(fleet):
    return [name for name, args in fleet.calls if args[0] == "phase"]


def test_canary_then_batches_each_gated(tmp_path):
    fleet, lines = Fleet(), []
    assert go(inv(tmp_path), fleet, lines) == 0
    assert moves(fleet) == ["h1", "h2", "h3", "h4", "h5"] and set(fleet.stage.values()) == {2}
    assert fleet.calls[:3] == [("h1", ("phase", "--stage", "2", "--yes", "--json")), ("h1", ("health",)),
                               ("h1", ("health",))], "the canary's gate comes before any other host moves"
    assert lines[0] == "canary: h1 -> stage 2" and "batch 1: h2, h3 -> stage 2" in lines
    assert lines[-1] == "at stage 2: h1, h2, h3, h4, h5"
    outcomes = record.last_outcomes(record.load(tmp_path / "fleet-record.json"))
    assert {n: o["result"] for n, o in outcomes.items()} == {n: "moved" for n in HOSTS}


def test_a_canary_whose_gate_fails_stops_the_rollout_with_the_others_untouched(tmp_path):
    fleet, lines = Fleet(critical={"h1"}), []
    assert go(inv(tmp_path), fleet, lines) == 1
    assert moves(fleet) == ["h1"] and [fleet.stage[n] for n in ("h2", "h3", "h4", "h5")] == [1, 1, 1, 1]
    assert "  h1: gate FAILED: health is CRITICAL: api.generate" in lines
    assert "stopped: 1 failure(s) (h1), the canary failed; not started: h2, h3, h4, h5" in lines, lines
    assert record.load(tmp_path / "fleet-record.json")["runs"][-1]["result"] == "stopped"


def test_a_rerun_continues_with_the_hosts_not_at_the_stage(tmp_path):
    fleet = Fleet(fail={"h3"})
    assert go(inv(tmp_path), fleet, []) == 1
    assert moves(fleet) == ["h1", "h2", "h3"] and fleet.stage["h4"] == 1, "no new host after the budget is spent"
    fleet.fail.clear()
    fleet.calls.clear()
    lines = []
    assert go(inv(tmp_path), fleet, lines) == 0
    assert moves(fleet) == ["h3", "h4", "h5"], "h1 and h2 are at the stage: not moved again"
    assert len(record.load(tmp_path / "fleet-record.json")["runs"]) == 2


def test_an_unreachable_host_counts_as_a_failure_and_is_named(tmp_path):
    fleet, lines = Fleet(unreachable={"h4"}), []
    assert go(inv(tmp_path, stop_after=2), fleet, lines) == 1
    assert "h4" not in moves(fleet) and moves(fleet) == ["h1", "h2", "h3", "h5"]
    assert "at stage 2: h1, h2, h3, h5; failed: h4" in lines, lines
    outcome = record.last_outcomes(record.load(tmp_path / "fleet-record.json"))["h4"]
    assert outcome["result"] == "cannot move" and "unreachable" in outcome["reason"]


def test_the_record_is_private_and_a_broken_one_is_named(tmp_path):
    go(inv(tmp_path), Fleet(), [])
    path = tmp_path / "fleet-record.json"
    assert path.stat().st_mode & 0o777 == 0o600 and json.loads(path.read_text())["runs"][0]["stage"] == 2
    path.write_text("{not json")
    with pytest.raises(Exception, match="the fleet record cannot be read"):
        record.load(path)


@pytest.mark.parametrize("overrides, folder, config, line", [
    ((), None, None, ".venv/bin/invoke status --json"),
    ((("deploy_dir", "/srv/my xiaozhi"), ("target", "xiaozhi-server")), "/opt/x m", "/etc/x.yaml",
     "cd '/opt/x m' && env INVOKE_MIGRATE_DEPLOY_DIR='/srv/my xiaozhi' INVOKE_MIGRATE_TARGET=xiaozhi-server "
     ".venv/bin/invoke -f /etc/x.yaml status --json"),
    ((("deploy_dir", "/srv/$(reboot)"),), "/opt/`id`", None,
     "cd '/opt/`id`' && env INVOKE_MIGRATE_DEPLOY_DIR='/srv/$(reboot)' .venv/bin/invoke status --json"),
])
def test_the_command_line_quotes_every_value(overrides, folder, config, line):
    from fleet.inventory import Host
    from fleet.remote import command_line
    host = Host("h", "10.0.0.1", folder=folder, config=config, overrides=overrides)
    assert command_line(host, "status", "--json") == line


def test_the_json_line_is_the_last_one_under_the_mark():
    from fleet.remote import parse
    out = 'stage 1 -> 2\n{"other": 1}\n{"xiaozhi_migrate": {"exit": 6}}\nnot json {\n'
    assert parse(out) == {"exit": 6} and parse("no json here") == {} and parse('{"xiaozhi_migrate": 3}') == {}


def test_a_failed_canary_stops_the_rollout_whatever_the_budget(tmp_path):
    fleet, lines = Fleet(fail={"h1"}), []
    assert go(inv(tmp_path, stop_after=3), fleet, lines) == 1
    assert moves(fleet) == ["h1"] and "stopped: 1 failure(s) (h1), the canary failed; not started: h2, h3, h4, h5" in lines
    assert record.last_outcomes(record.load(tmp_path / "fleet-record.json"))["h1"]["result"] == "rolled back"


def test_a_rerun_gates_a_host_that_failed_its_health_gate_again_before_anything_moves(tmp_path):
    fleet = Fleet(critical={"h1"})
    assert go(inv(tmp_path), fleet, []) == 1 and fleet.stage["h1"] == 2
    fleet.calls.clear()
    lines = []
    assert go(inv(tmp_path), fleet, lines) == 1, "still CRITICAL: nothing else may move"
    assert moves(fleet) == [] and "gating again first: h1" in lines and "  h1: gate FAILED: health is CRITICAL: api.generate" in lines
    fleet.critical.clear()
    fleet.calls.clear()
    lines = []
    assert go(inv(tmp_path), fleet, lines) == 0
    assert "  h1: gate passed: 2 OK health run(s) in a row since its move" in lines and moves(fleet) == ["h2", "h3", "h4", "h5"]


def test_an_interrupted_run_is_recorded_as_such(tmp_path):
    class Broken(Fleet):
        def ask(self, host, *args, timeout=3600):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        go(inv(tmp_path), Broken(), [])
    assert record.load(tmp_path / "fleet-record.json")["runs"][-1]["result"] == "interrupted"


def test_fleet_rollback_asks_each_host_to_roll_back(tmp_path):
    fleet, lines = Fleet(stage=2), []
    r = rollout.preflight(inv(tmp_path), fleet, 1, "1.0", backward=True)
    assert rollout.run(inv(tmp_path), r, fleet, task="rollback", out=lines.append, sleep=lambda s: None, poll=0) == 0
    assert fleet.calls[0] == ("h1", ("rollback", "--to", "1", "--yes", "--json"))


class Leaky(Fleet):
    """A host whose toolkit (an older one, or a bug) let a key through in its last lines."""

    def ask(self, host, *args, timeout=3600):
        self.calls.append((host.name, args))
        if host.name == "h2":
            return Answer(6, {}, "Traceback | ValueError: bad header Authorization: Bearer sk-0123456789abcdef0123 "
                                 "| QWEN_API_KEY=not-shaped-like-one")
        if host.name == "h3":
            raise RuntimeError("channel closed while sending sk-abcdefabcdefabcdefabcdef")
        self.stage[host.name] = int(args[2])
        return Answer(0, {"summary": "stage 2 applied and verified"}, "")


def test_a_key_in_a_hosts_output_is_masked_in_what_is_printed_and_recorded(tmp_path):
    lines = []
    go(inv(tmp_path, stop_after=5), Leaky(), lines)
    text = "\n".join(lines) + (tmp_path / "fleet-record.json").read_text()
    assert "sk-0123456789abcdef0123" not in text and "sk-abcdefabcdefabcdefabcdef" not in text
    assert "not-shaped-like-one" not in text and "QWEN_API_KEY=<redacted>" in text
    assert "Bearer <redacted>" in text and "channel closed while sending <redacted>" in text
