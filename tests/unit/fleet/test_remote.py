"""What a host's `invoke status --json` is taken to say (fleet.remote.Remote.status), with the
SSH layer faked: its fields when they have the right shape, nothing from a field that has not,
and a problem (never a crash) when the host printed no answer."""
import json

import pytest

from adapters import ssh
from core.cli import MARK
from fleet import remote

from .test_rollout import inv

GOOD = {"toolkit": "1.0", "target": "compose-env", "stage": 2, "since": 1796585880.5,
        "pending": None, "last_health": {"status": "OK", "time": 1796585940}}


@pytest.mark.parametrize("stdout, code, problem, fields", [
    ("moving on\n" + json.dumps({MARK: GOOD}) + "\n", 0, "",
     {"version": "1.0", "target": "compose-env", "stage": 2, "since": 1796585880.5,
      "last_health": {"status": "OK", "time": 1796585940}}),
    (json.dumps({MARK: {**GOOD, "since": "yesterday", "last_health": ["OK"]}}), 0, "",   # hostile shapes
     {"version": "1.0", "since": None, "last_health": None}),
    (json.dumps({MARK: {**GOOD, "since": float("inf"), "last_health": None, "stage": 2.0}}), 0, "",
     {"since": None, "stage": 2}),
    (json.dumps({MARK: {**GOOD, "since": True}}), 0, "", {"since": None}),
    (json.dumps({MARK: {**GOOD, "stage": "2"}}), 0, "its status answer has stage '2', not what this toolkit writes",
     {"stage": None, "version": ""}),
    (json.dumps({MARK: {**GOOD, "stage": True, "pending": "to 3"}}), 0,
     "its status answer has stage 'True' and pending 'to 3', not what", {"stage": None}),
    (json.dumps({MARK: {**GOOD, "pending": ["sk-0123456789abcdef0123"]}}), 0, "its status answer has pending \"['<redacted>']\"",
     {"pending": None}),
    (json.dumps({"other": GOOD}), 0, "its toolkit gave no status (exit 0): ", {"stage": None}),
    ("Traceback (most recent call last):\nQWEN_API_KEY=sk-0123456789abcdef0123 rejected\n", 1,
     "its toolkit gave no status (exit 1): Traceback (most recent call last): | QWEN_API_KEY=<redacted>",
     {"stage": None}),
])
def test_a_status_answer_is_read_by_shape(tmp_path, monkeypatch, stdout, code, problem, fields):
    monkeypatch.setattr(ssh, "connect", lambda *a, **k: object())
    monkeypatch.setattr(ssh, "run", lambda conn, command, timeout=0: ssh.Done(code, stdout, ""))
    i = inv(tmp_path)
    now = remote.Remote(i).status(i.hosts["h1"])
    assert now.problem.startswith(problem) and bool(now.problem) == bool(problem), now.problem
    assert {key: getattr(now, key) for key in fields} == fields and "sk-0123" not in repr(now)


def test_a_host_that_cannot_be_reached_is_a_problem_said(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise ssh.SSHError("h1.example:22 is unreachable: timed out")
    monkeypatch.setattr(ssh, "connect", refuse)
    i = inv(tmp_path)
    now = remote.Remote(i).status(i.hosts["h1"])
    assert now.problem and "unreachable" in now.problem and now.stage is None
