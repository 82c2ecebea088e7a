"""Alerts on the real sandbox at the cut-over stage: the API fails (its emulator stopped), one
cron-style health run sends one CRITICAL message naming the API checks and the restore + rollback
commands (a quarantined copy exists), the next run sends nothing, and the recovery is announced.
The robot emulator runs in this process on 127.0.0.1; its URL and secret come from owner-only
files, as cron needs them (no key and no robot URL in any environment)."""
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from sandbox.common import Knobs, start_in_thread
from sandbox.robots import RobotServer

from . import endpoints
from .conftest import config_variant, invoke, reach

TOKEN, SECRET = "dt-integration-token", "SECintegration0001"


@pytest.fixture(scope="module")
def robots():
    server = RobotServer(("127.0.0.1", 0), Knobs(), {TOKEN: SECRET})
    start_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def cfg(sandbox_config, sandbox_up, robots, tmp_path_factory, docker_client):
    folder = tmp_path_factory.mktemp("alerts")
    url, secret = folder / "dingtalk.url", folder / "dingtalk.secret"
    url.write_text(f"http://127.0.0.1:{robots.server_address[1]}/robot/send?access_token={TOKEN}\n")
    secret.write_text(SECRET + "\n")
    for path in (url, secret):
        path.chmod(0o600)
    store = Path(docker_client.volumes.get(f"{sandbox_up}_ollama").attrs["Mountpoint"])
    qdir = store.parent.parent / f"{sandbox_up}-alerts-quarantine"   # on the volume's filesystem
    yield config_variant(sandbox_config, folder, **{
        "gates.history_records": 1, "decommission.quarantine_dir": str(qdir), "api.key": None,
        "alerts": {"timeout": 3, "channels": [{"kind": "dingtalk", "url_file": str(url), "secret_file": str(secret),
                                                "language": "en"}]}}), sandbox_up
    import shutil
    shutil.rmtree(qdir, ignore_errors=True)


def dingtalk(robots) -> list[str]:
    return [m["body"]["markdown"]["text"] for m in robots.received if m["verified"]]


def test_at_the_cutover_an_api_failure_sends_one_message_with_the_way_back(cfg, robots):
    config, project = cfg
    key = yaml.safe_load(config.read_text())["migrate"]["sandbox"]["key"]   # the shell's, as in production
    reach(config, 2, env={"QWEN_API_KEY": key})
    invoke(config, "phase", "--stage", "3", "--yes", "--force", env={"QWEN_API_KEY": key})
    texts = dingtalk(robots)
    assert any("stage 3 (cutover) applied and verified" in t for t in texts), texts
    assert any("decommissioned" in t for t in texts), texts
    invoke(config, "health", env={})            # cron reads the deployed key; the baseline record
    robots.received.clear()
    subprocess.run(["docker", "stop", "--timeout", "2", f"{project}-dashscope-1"], check=True, capture_output=True)
    try:
        first = invoke(config, "health", check=False, env={})     # as cron runs it: no key, no URL in the env
        assert first.returncode == 2, first.stdout
        assert len(robots.received) == 1 and robots.received[0]["verified"], robots.received
        text = dingtalk(robots)[0]
        print("the CRITICAL message, as the DingTalk robot received it:\n" + text)
        assert "CRITICAL" in text and "api.auth" in text and "OK -> CRITICAL" in text
        assert "invoke outage" in text and "invoke health" in text, text
        assert re.search(r"taken \d+\.\d h ago", text), text
        assert TOKEN not in first.stdout + first.stderr and SECRET not in first.stdout + first.stderr
        second = invoke(config, "health", check=False, env={})
        assert second.returncode == 2 and len(robots.received) == 1, "the same failure was sent again"
    finally:
        subprocess.run(["docker", "start", f"{project}-dashscope-1"], check=True, capture_output=True)
    # the emulator listening before health asks it: one run that met it half-way up (its chat
    # refused, its /models answered) would be a third, "changed", message
    for _ in range(100):
        try:
            httpx.get(endpoints.API_BASE + "/models", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    for _ in range(30):   # until a health run is OK again
        done = invoke(config, "health", check=False, env={})
        if done.returncode == 0:
            break
    assert done.returncode == 0, done.stdout
    assert len(robots.received) == 2 and "CRITICAL -> OK" in dingtalk(robots)[1]
    log = (Path(yaml.safe_load(config.read_text())["migrate"]["deploy_dir"]) / "alerts.jsonl").read_text()
    assert TOKEN not in log and SECRET not in log
