"""Alerts against the robot emulator: `alerts.test` for every platform (the emulator verifies each
signature and timestamp as its platform documents), wrong secrets and keys answered with the
platform's code, a hanging channel bounded, secrets absent from everything printed, and the health
command's change detection sending exactly one message per change."""
import time

import pytest
import yaml

from checks.model import Result, Status
from checks.run import Report
from core import config
from orchestration import alerting
from sandbox.common import Knobs, start_in_thread
from sandbox.robots import RobotServer

from ..conftest import ROOT

TOKEN, DSECRET, HOOK, FSECRET, WKEY = "dt-token-0001", "SECdingtalk0001", "fs-hook-0001", "feishu-secret-1", "wc-key-1"
SECRETS = (TOKEN, DSECRET, HOOK, FSECRET, WKEY)


@pytest.fixture
def robots():
    server = RobotServer(("127.0.0.1", 0), Knobs(), {TOKEN: DSECRET}, {HOOK: FSECRET}, {WKEY})
    start_in_thread(server)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def settings_for(url, tmp_path, *, dsecret=DSECRET, fsecret=FSECRET, wkey=WKEY, extra=()):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    secret_file = tmp_path / "dingtalk.secret"
    secret_file.write_text(dsecret + "\n")
    secret_file.chmod(0o600)
    data["migrate"]["alerts"] = {"timeout": 2, "channels": [
        {"kind": "dingtalk", "url_env": "DINGTALK_URL", "secret_file": str(secret_file)},
        {"kind": "feishu", "url": f"{url}/open-apis/bot/v2/hook/{HOOK}", "secret": fsecret, "language": "en"},
        {"kind": "wecom", "url": f"{url}/cgi-bin/webhook/send?key={wkey}"},
        {"kind": "webhook", "url": f"{url}/webhook/ops", "min_status": "CRITICAL"}, *extra]}
    return config.load(data, env={"DINGTALK_URL": f"{url}/robot/send?access_token={TOKEN}"})


def test_alerts_test_reaches_every_platform_and_each_signature_is_verified(robots, tmp_path):
    printed = []
    failed = alerting.test(settings_for(robots.url, tmp_path), None, out=printed.append)
    assert failed == 0, printed
    assert [line.split(":")[0] for line in printed] == ["#1 dingtalk", "#2 feishu", "#3 wecom", "#4 webhook"]
    assert "errcode 0 ok" in printed[0] and "code 0 success" in printed[1] and "errcode 0 ok" in printed[2]
    assert sorted((r["platform"], r["verified"]) for r in robots.received) == [   # sent at once: any order
        ("dingtalk", True), ("feishu", True), ("webhook", True), ("wecom", True)]
    assert not any(s in "\n".join(printed) for s in SECRETS)


@pytest.mark.parametrize("change, line, answer", [
    ({"dsecret": "SECwrong"}, 0, "errcode 310000 sign not match"),
    ({"fsecret": "wrong"}, 1, "code 19021 sign match fail"),
    ({"wkey": "not-a-key"}, 2, "errcode 93000 invalid webhook url"),
])
def test_a_wrong_secret_or_key_gets_the_platforms_own_answer(robots, tmp_path, change, line, answer):
    printed = []
    failed = alerting.test(settings_for(robots.url, tmp_path, **change), None, out=printed.append)
    assert failed == 1 and "FAILED" in printed[line] and answer in printed[line], printed
    assert not any(s in "\n".join(printed) for s in (*SECRETS, "SECwrong", "not-a-key"))


def test_a_hanging_channel_is_bounded_and_the_others_still_get_through(robots, tmp_path):
    hang = RobotServer(("127.0.0.1", 0), Knobs(hang=True))
    start_in_thread(hang)
    try:
        s = settings_for(robots.url, tmp_path, extra=[{"kind": "webhook", "url": f"http://127.0.0.1:{hang.server_address[1]}/webhook/x"}])
        printed, start = [], time.monotonic()
        failed = alerting.test(s, None, out=printed.append)
        assert time.monotonic() - start < s.alerts.timeout + 1.5
        assert failed == 1 and "timeout" in printed[4] and len(robots.received) == 4
    finally:
        hang.shutdown()
        hang.server_close()


def test_a_channel_whose_variable_is_unset_says_why_and_sends_nothing(robots, tmp_path):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    data["migrate"]["alerts"] = {"channels": [{"kind": "dingtalk", "url_env": "NOT_SET_ANYWHERE"}]}
    printed = []
    assert alerting.test(config.load(data, env={}), None, out=printed.append) == 1
    assert "$NOT_SET_ANYWHERE is not set" in printed[0] and not robots.received


def report(status, *failing):
    results = [Result(n, status, "x", f"{n} is {status.name.lower()}") for n in failing] + [
        Result("host", Status.OK, "x", "fine")]
    stage = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={}).stage(3)
    return Report(stage, results, 0.1, time.time())


def test_health_sends_once_per_change_to_the_channels_that_want_it(robots, tmp_path, capsys):
    from checks import history
    s = settings_for(robots.url, tmp_path)
    previous = None
    for status, failing in [(Status.OK, ()), (Status.CRITICAL, ("api.auth",)), (Status.CRITICAL, ("api.auth",)),
                            (Status.OK, ())]:
        r = report(status, *failing)
        record = history.record(r)
        alerting.after_health(s, r, previous, record, budget=2.0)
        previous = record
    got = [(m["platform"], m["body"].get("status") or "") for m in robots.received]
    assert len([g for g in got if g[0] == "dingtalk"]) == 2        # the change and the recovery
    assert len([g for g in got if g[0] == "webhook"]) == 2         # CRITICAL-only: both touch CRITICAL
    text = next(m for m in robots.received if m["platform"] == "dingtalk")["body"]["markdown"]["text"]
    assert "OK -> CRITICAL" in text and "api.auth" in text
    assert not capsys.readouterr().err


def test_a_health_run_that_is_not_recorded_sends_nothing(robots, tmp_path):
    from orchestration import health
    s = settings_for(robots.url, tmp_path)   # production defaults: nothing listens, the checks fail
    health.health(s, record=False, timeout=1)
    assert not (tmp_path / alerting.LOG).exists() and not robots.received
    health.health(s, timeout=1)   # recorded: the alerts step runs (this long-lived test process has spent its bound)
    assert (tmp_path / alerting.LOG).exists()


def test_the_alert_log_is_rotated_and_a_failing_channel_is_still_said_once(robots, tmp_path, capsys):
    """alerts.jsonl rotates as the health history does; what was already said about a channel that
    keeps failing is read across the rotated files, so a rotation does not make it said again."""
    import dataclasses

    from checks import history
    s = settings_for(robots.url, tmp_path, wkey="wc-key-revoked")
    s = dataclasses.replace(s, health=dataclasses.replace(s.health, history_max_bytes=300, history_keep=3))
    previous = None
    for status, failing in [(Status.OK, ())] + [(Status.CRITICAL, ("api.auth",))] * 4:
        r = report(status, *failing)
        record = history.record(r)
        alerting.after_health(s, r, previous, record, budget=2.0)
        previous = record
    warned = [line for line in capsys.readouterr().err.splitlines() if "not delivered" in line]
    assert len(warned) == 1 and "#3 wecom" in warned[0], warned
    assert (tmp_path / (alerting.LOG + ".1")).exists() and not (tmp_path / (alerting.LOG + ".4")).exists()
