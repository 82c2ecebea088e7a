"""`invoke alerts.test` as an operator runs it, against the robot emulator as its own process
(`python3 -m sandbox.robots`): all three platforms and a webhook take the message, the emulator
verifies each signature and timestamp, and no URL or secret appears in what is printed."""
import json
import subprocess
import sys

import httpx
import pytest
import yaml

from ..conftest import free_port, wait_listening
from .conftest import ROOT, invoke

ROBOTS = {"dingtalk": ("dt-cli-token", "SECcli0001"), "feishu": ("fs-cli-hook", "feishu-cli-secret"),
          "wecom": ("wc-cli-key", "")}


@pytest.fixture
def robots():
    port = free_port()
    argv = [sys.executable, "-m", "sandbox.robots", "--port", str(port),
            "--dingtalk", ":".join(ROBOTS["dingtalk"]), "--feishu", ":".join(ROBOTS["feishu"]),
            "--wecom", ROBOTS["wecom"][0]]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_listening(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_alerts_test_reaches_every_platform_through_the_cli(robots, tmp_path):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    data["migrate"]["alerts"] = {"channels": [
        {"kind": "dingtalk", "url_env": "XZ_DINGTALK_URL", "secret_env": "XZ_DINGTALK_SECRET"},
        {"kind": "wecom", "url_env": "XZ_WECOM_URL", "language": "en"},
        {"kind": "feishu", "url_env": "XZ_FEISHU_URL", "secret_env": "XZ_FEISHU_SECRET"},
        {"kind": "webhook", "url": f"{robots}/webhook/ops"}]}
    config = tmp_path / "alerts.yaml"
    config.write_text(yaml.safe_dump(data))
    env = {"XZ_DINGTALK_URL": f"{robots}/robot/send?access_token={ROBOTS['dingtalk'][0]}",
           "XZ_DINGTALK_SECRET": ROBOTS["dingtalk"][1],
           "XZ_WECOM_URL": f"{robots}/cgi-bin/webhook/send?key={ROBOTS['wecom'][0]}",
           "XZ_FEISHU_URL": f"{robots}/open-apis/bot/v2/hook/{ROBOTS['feishu'][0]}",
           "XZ_FEISHU_SECRET": ROBOTS["feishu"][1]}
    done = invoke(config, "alerts.test", env=env)
    print(done.stdout)
    lines = done.stdout.splitlines()
    assert [line.split(": ")[1] for line in lines] == ["delivered"] * 4, done.stdout
    received = httpx.get(robots + "/_sandbox/received").json()["received"]
    assert sorted((m["platform"], m["verified"]) for m in received) == [
        ("dingtalk", True), ("feishu", True), ("webhook", True), ("wecom", True)]
    for message in received:   # one received message per platform, for the record
        print(message["platform"], json.dumps(message["body"], ensure_ascii=False)[:400])
    secrets = [v for pair in ROBOTS.values() for v in pair if v]
    assert not any(s in done.stdout + done.stderr for s in secrets)

    wrong = invoke(config, "alerts.test", "--channel", "1", check=False, env={**env, "XZ_DINGTALK_SECRET": "SECwrong"})
    assert wrong.returncode == 1 and "errcode 310000 sign not match" in wrong.stdout, wrong.stdout + wrong.stderr
    assert "SECwrong" not in wrong.stdout + wrong.stderr


def test_a_hanging_channel_never_holds_the_cron_run_past_its_bound(tmp_path):
    """Health against a dead stack (a problem to announce) with a robot that accepts and never
    answers: the run still ends within its --timeout, with the exit code of its checks, and says on
    stderr (and in alerts.jsonl) that the message was not delivered."""
    import time

    from sandbox.common import Knobs, start_in_thread
    from sandbox.robots import RobotServer
    hang = RobotServer(("127.0.0.1", 0), Knobs(hang=True))
    start_in_thread(hang)
    try:
        data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
        dead = f"http://127.0.0.1:{free_port()}"
        data["migrate"].update(deploy_dir=str(tmp_path), project="xztest-alerts-dead")
        data["migrate"]["local_llm"]["probe_url"] = dead
        data["migrate"]["api"].update(probe_url=dead + "/v1", key="sk-dead-0000-0000")
        data["migrate"]["alerts"] = {"timeout": 30, "channels": [
            {"kind": "webhook", "url": f"http://127.0.0.1:{hang.server_address[1]}/webhook/x"}]}
        config = tmp_path / "dead.yaml"
        config.write_text(yaml.safe_dump(data))
        start = time.monotonic()
        done = invoke(config, "health", "--timeout", "4", "--stage", "1", check=False)
        elapsed = time.monotonic() - start
        print(f"health with a hanging alert channel ended in {elapsed:.2f} s (bound 4 s), exit {done.returncode}")
        assert elapsed < 4.5, elapsed
        assert done.returncode == 2, done.stdout
        assert "alert to #1 webhook not delivered" in done.stderr, done.stderr
        log = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
        assert len(log) == 1 and not log[0]["ok"] and log[0]["reason"] == "changed"
    finally:
        hang.shutdown()
        hang.server_close()
