"""`invoke phase` on the sandbox with the real engine: forward and back, idempotence,
verification failure and rollback, the lock, and a crash in the middle of an apply."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml


from core import state

from . import endpoints
from .conftest import ROOT, config_variant, invoke, reach

LOCAL = endpoints.LOCAL
API = endpoints.API


@pytest.fixture(scope="module")
def cfg(sandbox_config, sandbox_up, tmp_path_factory, docker_client):
    # A short history requirement keeps the stage-3 gate testable in seconds; the quarantine
    # (on the volume's own mount, since files are moved) lets the walk come back from stage 3.
    mountpoint = Path(docker_client.volumes.get(f"{sandbox_up}_ollama").attrs["Mountpoint"])
    qdir = mountpoint.parent.parent / f"{sandbox_up}-quarantine"
    yield config_variant(sandbox_config, tmp_path_factory.mktemp("v"),
                         **{"gates.history_records": 2, "decommission.quarantine_dir": str(qdir)})
    import shutil
    shutil.rmtree(qdir, ignore_errors=True)


@pytest.fixture
def deploy(cfg):
    return Path(yaml.safe_load(cfg.read_text())["migrate"]["deploy_dir"])


@pytest.fixture(autouse=True)
def reset_knobs(sandbox_up):
    yield
    for url in (LOCAL, API):
        try:
            httpx.post(url + "/_sandbox/knobs", json={"error_rate": 0, "hang": False, "first_token_delay": 0})
        except httpx.ConnectError:   # the local model is gone at stage 3: nothing to reset
            pass


def phase(cfg, *args):
    done = invoke(cfg, "phase", *args, check=False)
    return done.returncode, done.stdout + done.stderr


def started(docker_client, project):
    return {c.name: c.attrs["State"]["StartedAt"]
            for c in docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})}


def env_of(docker_client, project, service):
    """The environment of the service's one running container (a start-first move gives it the
    next number: llm-service-2, -3, ...)."""
    found = docker_client.containers.list(filters={"label": [f"com.docker.compose.project={project}",
                                                             f"com.docker.compose.service={service}"]})
    assert len(found) == 1, [c.name for c in found]
    return dict(e.split("=", 1) for e in found[0].attrs["Config"]["Env"])


def counts(url):
    return httpx.get(url + "/_sandbox/stats").json()["requests"]


def files_of(deploy):
    return {n: ((deploy / n).read_bytes(), (deploy / n).stat().st_mode) for n in ("docker-compose.migrate.yml", "llm.env")}


def test_dry_run_changes_nothing(cfg, deploy):
    reach(cfg, 0)
    before = files_of(deploy), (deploy / "state.json").read_text()
    rc, out = phase(cfg, "--stage", "1", "--dry-run")
    assert rc == 0 and "dry run: nothing was changed" in out and "gate api: passed" in out
    assert (files_of(deploy), (deploy / "state.json").read_text()) == before


def test_walk_forward_and_back(cfg, deploy, sandbox_up, docker_client):
    reach(cfg, 0)
    already = len(state.audit_tail(deploy, 10_000))
    project = sandbox_up
    rc, out = phase(cfg, "--stage", "1", "--yes")
    assert rc == 0 and "stage 1 (validate) applied and verified" in out, out
    assert state.current_stage(deploy) == 1

    before = started(docker_client, project)
    rc, out = phase(cfg, "--stage", "1", "--yes")
    assert rc == 0 and "already at stage 1, nothing to do" in out
    assert started(docker_client, project) == before, "re-applying restarted a container"

    rc, out = phase(cfg, "--stage", "3", "--yes")
    assert rc == 2 and "skips 2" in out

    rc, out = phase(cfg, "--stage", "2", "--yes")
    assert rc == 0 and "recreate: llm-service" in out, out
    assert env_of(docker_client, project, "llm-service")["LLM_PROVIDER_WEIGHTS"] == "qwen:70,local:30"
    unchanged = {k: v for k, v in started(docker_client, project).items() if "llm-service" not in k}
    assert unchanged == {k: v for k, v in before.items() if "llm-service" not in k}

    local0, api0 = counts(LOCAL).get("POST /api/chat", 0), counts(API).get("POST /compatible-mode/v1/chat/completions", 0)
    with httpx.Client(base_url=endpoints.LLM, timeout=30) as http:
        for _ in range(1000):
            http.post("/chat", json={"prompt": "hi"}).raise_for_status()
    local = counts(LOCAL)["POST /api/chat"] - local0
    api = counts(API)["POST /compatible-mode/v1/chat/completions"] - api0
    assert local + api == 1000 and abs(api / 1000 - 0.70) <= 0.03, (local, api)

    rc, out = phase(cfg, "--stage", "3", "--yes")
    assert rc == 5 and "gate history failed" in out
    for _ in range(2):
        assert invoke(cfg, "health", check=False).returncode == 0
    rc, out = phase(cfg, "--stage", "3", "--yes")
    assert rc == 0 and "left running (decommissioned separately): local-llm" in out, out
    assert "decommissioning the local LLM now that the stage is verified" in out and "move to quarantine" in out
    assert env_of(docker_client, project, "llm-service")["LLM_PROVIDER_WEIGHTS"] == "qwen:100,local:0"
    assert env_of(docker_client, project, "vad")["VAD_MAX_CONCURRENT"] == "32"
    assert "xiaozhi-local-llm" not in {c.name for c in docker_client.containers.list(all=True)}
    assert invoke(cfg, "health", check=False).returncode == 0

    done = invoke(cfg, "rollback", "--yes", check=False)
    assert done.returncode == 1 and "decommission.restore" in done.stderr, "rollback without the model"
    assert invoke(cfg, "decommission.restore", "--yes", check=False).returncode == 0
    rc = invoke(cfg, "rollback", "--yes", check=False).returncode
    assert rc == 0 and state.current_stage(deploy) == 2
    assert env_of(docker_client, project, "llm-service")["LLM_PROVIDER_WEIGHTS"] == "qwen:70,local:30"
    assert invoke(cfg, "rollback", "--to", "0", "--yes", check=False).returncode == 0
    assert state.current_stage(deploy) == 0
    events = [e["event"] for e in state.audit_tail(deploy, 10_000)[already:]]
    assert events.count("applied") == 5


def test_failed_verification_rolls_back_byte_identical(cfg, deploy, sandbox_up, docker_client):
    reach(cfg, 1)
    before = files_of(deploy)
    httpx.post(LOCAL + "/_sandbox/knobs", json={"error_rate": 1.0}).raise_for_status()
    rc, out = phase(cfg, "--stage", "2", "--yes")
    assert rc == 6 and "rolled back" in out and "local.generate" in out, out
    assert files_of(deploy) == before
    assert state.current_stage(deploy) == 1 and "pending" not in state.read(deploy)
    assert env_of(docker_client, sandbox_up, "llm-service")["LLM_PROVIDER_WEIGHTS"] == "qwen:25,local:30"
    assert state.audit_tail(deploy, 1)[0]["event"] == "rolled-back"


def test_a_second_concurrent_run_is_refused(cfg, deploy):
    reach(cfg, 1)
    with state.lock(deploy):
        rc, out = phase(cfg, "--stage", "2", "--yes")
    assert rc == 4 and f"pid {os.getpid()}" in out


def test_kill_9_mid_apply_then_the_next_run_converges(cfg, deploy, sandbox_up):
    reach(cfg, 1)
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "-f", str(cfg), "phase", "--stage", "2", "--yes"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and "pending" not in (state.read(deploy) or {}):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert "pending" in state.read(deploy), "the run was not caught mid-apply"
    _wait_for_compose_to_finish(sandbox_up)
    status = invoke(cfg, "status").stdout
    assert "PENDING" in status
    assert "(it was changing: files docker-compose.migrate.yml, llm.env; recreate llm-service)" in status, status
    rc, out = phase(cfg, "--stage", "2", "--yes")
    assert rc == 0 and "stopped at" in out and "applied and verified" in out, out
    assert state.current_stage(deploy) == 2 and "pending" not in state.read(deploy)
    rc, out = phase(cfg, "--stage", "2", "--yes")
    assert "already at stage 2, nothing to do" in out


def _wait_for_compose_to_finish(project):
    import psutil
    deadline = time.time() + 120
    while time.time() < deadline:
        busy = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and project in " ".join(p.info["cmdline"])
                and "compose" in " ".join(p.info["cmdline"])]
        if not busy:
            return
        time.sleep(0.2)


@pytest.mark.parametrize("args, variant, code, words", [
    (["--stage", "7"], {}, 2, ["unknown stage 7", "0 (baseline)", "3 (cutover)"]),
    (["--stage", "x"], {}, 2, ["'x' is not a stage number"]),
    # (no key in config or shell now takes the deployed one: tests/unit/hardening/test_key_handling.py)
    (["--stage", "2"], {"api.key": "sk-\u200bpasted"}, 2, ["character 4 of the key", "U+200B"]),
    (["--stage", "2"], {"deploy_dir": "/nonexistent/xiaozhi"}, 1, ["does not exist", "/nonexistent/xiaozhi"]),
    (["--stage", "2"], {"stages": "oops"}, 2, ["migrate.stages"]),
])
def test_bad_input_is_a_clear_error_and_changes_nothing(cfg, deploy, tmp_path, args, variant, code, words):
    before = files_of(deploy), (deploy / "state.json").read_text()
    config = config_variant(cfg, tmp_path, **variant) if variant else cfg
    done = invoke(config, "phase", *args, "--yes", check=False)
    out = done.stdout + done.stderr
    assert done.returncode == code and "Traceback" not in out, out
    for word in words:
        assert word in out
    assert (files_of(deploy), (deploy / "state.json").read_text()) == before


def test_the_outage_plan_puts_every_chat_on_the_local_model_and_end_goes_back(cfg, deploy, sandbox_up, docker_client):
    """The API fails after the cut-over: `invoke outage` brings the quarantined model back and
    sends it every chat; `outage --end` returns to stage 3 once the API answers (and the local
    model goes back to quarantine)."""
    reach(cfg, 3)
    assert "xiaozhi-local-llm" not in {c.name for c in docker_client.containers.list(all=True)}
    httpx.post(API + "/_sandbox/knobs", json={"error_rate": 1.0}).raise_for_status()   # the API is down
    began = time.monotonic()
    done = invoke(cfg, "outage", "--yes", check=False)
    assert done.returncode == 0 and "restored qwen2:7b" in done.stdout, done.stdout + done.stderr
    assert "every chat now goes to the local model" in done.stdout
    local0 = counts(LOCAL).get("POST /api/chat", 0)
    with httpx.Client(base_url=endpoints.LLM, timeout=30) as http:
        for _ in range(50):
            http.post("/chat", json={"prompt": "hi"}).raise_for_status()
    print(f"outage: {time.monotonic() - began:.1f} s from the command to 50 chats answered by the local model")
    assert counts(LOCAL)["POST /api/chat"] - local0 == 50
    assert state.current_stage(deploy) == -1 and state.read(deploy)["previous"] == 3
    assert env_of(docker_client, sandbox_up, "llm-service")["LLM_PROVIDER_WEIGHTS"] == "qwen:0,local:100"
    again = invoke(cfg, "outage", "--yes")
    assert "already in an outage" in again.stdout
    done = invoke(cfg, "outage", "--end", "--yes", check=False)
    assert done.returncode == 5 and "stays on the local model" in done.stderr, done.stdout + done.stderr
    httpx.post(API + "/_sandbox/knobs", json={"error_rate": 0}).raise_for_status()   # the API is back
    done = invoke(cfg, "outage", "--end", "--yes", check=False)
    assert done.returncode == 0 and "stage 3 (cutover) applied and verified" in done.stdout, done.stdout + done.stderr
    assert state.current_stage(deploy) == 3 and "move to quarantine" in done.stdout
    assert invoke(cfg, "health", check=False).returncode == 0
