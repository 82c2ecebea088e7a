"""Issue 24 on the seed's stack (compose-env), with the real engine: a move replaces llm-service
start-first where the operator's file lets two run at once (the sandbox's shape: a front calls it
by its service name, it publishes no port), and recreates it stop-first, saying why, where it
does not (a container_name of theirs). Its own sandbox: the last test edits their file."""
import json
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from core import state

from . import endpoints
from .conftest import config_variant, invoke, reach


@pytest.fixture(scope="module")
def cfg(sandbox_config, sandbox_up):
    return sandbox_config


def deploy(cfg) -> Path:
    return Path(yaml.safe_load(cfg.read_text())["migrate"]["deploy_dir"])


def llm_containers(docker_client, project) -> dict[str, dict]:
    """The running llm-service containers: name -> their environment."""
    found = docker_client.containers.list(filters={"label": [f"com.docker.compose.project={project}",
                                                             "com.docker.compose.service=llm-service"]})
    return {c.name: dict(e.split("=", 1) for e in c.attrs["Config"]["Env"]) for c in found}


class Chats:
    """Chats through the front, one after another on 4 clients, for as long as the block runs."""

    def __init__(self):
        self.stop, self.lock = threading.Event(), threading.Lock()
        self.answered, self.failed, self.retried = 0, [], 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(4)]

    def _run(self):
        with httpx.Client(base_url=endpoints.LLM, timeout=30, headers={"Connection": "close"}) as http:
            while not self.stop.is_set():
                try:
                    r = http.post("/chat", json={"prompt": "你好"})
                    ok, why = r.status_code == 200, f"{r.status_code} {r.headers.get('X-Sandbox-Front', '')} {r.text[:80]}"
                except httpx.HTTPError as exc:
                    ok, why = False, repr(exc)
                with self.lock:
                    if ok:
                        self.answered += 1
                        self.retried += bool(r.headers.get("X-Sandbox-Front-Retried"))
                    else:
                        self.failed.append(why)

    def __enter__(self):
        for t in self.threads:
            t.start()
        time.sleep(1)
        return self

    def __exit__(self, *exc):
        time.sleep(1)
        self.stop.set()
        for t in self.threads:
            t.join(40)


class Events:
    """The engine's events for the project's llm-service containers while the block runs, streamed
    (the engine keeps only its last 256 events to replay, and healthchecks fill them in a minute)
    into a file (a pipe read only at the end would fill and hold the stream back)."""

    def __init__(self, project: str):
        self.argv = ["docker", "events", "--since", f"{time.time():.3f}", "--format", "{{json .}}",
                     "--filter", "type=container", "--filter", f"label=com.docker.compose.project={project}",
                     "--filter", "label=com.docker.compose.service=llm-service"]
        self.seen: list[dict] = []

    def __enter__(self):
        self.file = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(self.argv, stdout=self.file, stderr=subprocess.STDOUT, text=True)
        return self

    def __exit__(self, kind, *_):
        try:
            time.sleep(1)             # the last events on their way
            ended = self.proc.poll()
        finally:
            self.proc.kill()
            self.proc.wait(30)
            self.file.seek(0)
            lines = self.file.read().splitlines()
            self.file.close()
        self.seen = [json.loads(line) for line in lines if line.strip().startswith("{")]
        if kind is None:   # the block's own failure, if any, is the one to see
            assert ended is None, f"`docker events` ended early (exit {ended}): {lines[-3:]}"


def test_the_old_llm_service_answers_until_the_new_one_is_healthy(cfg, sandbox_up, docker_client):
    reach(cfg, 1)
    (old, old_env), = llm_containers(docker_client, sandbox_up).items()
    assert old_env["LLM_PROVIDER_WEIGHTS"] == "qwen:25,local:30"
    with Events(sandbox_up) as events, Chats() as chats:
        done = invoke(cfg, "phase", "--stage", "2", "--yes")
    out = done.stdout
    assert "llm-service: start-first" in out and f"beside {old}" in out and f"telling {old} to stop" in out, out
    assert chats.failed == [] and chats.answered > 20, (chats.answered, chats.failed[:5])
    print(f"start-first under load: {chats.answered} chats answered, {chats.retried} after the front retried a reset")
    (new, new_env), = llm_containers(docker_client, sandbox_up).items()
    assert new != old and new_env["LLM_PROVIDER_WEIGHTS"] == "qwen:70,local:30"
    seen = events.seen
    healthy = [e["timeNano"] for e in seen if e["Action"] == "health_status: healthy"
               and e["Actor"]["Attributes"]["name"] == new]
    told = [e["timeNano"] for e in seen if e["Action"] == "kill" and e["Actor"]["Attributes"]["name"] == old]
    assert healthy and told and healthy[0] < told[0], \
        f"the new one healthy at {healthy}, the old one told to stop at {told} ({len(seen)} events seen)"
    again = invoke(cfg, "phase", "--stage", "2", "--yes").stdout
    assert "nothing to do" in again and set(llm_containers(docker_client, sandbox_up)) == {new}


def test_a_new_llm_service_not_healthy_in_time_is_removed_and_the_old_one_keeps_answering(
        cfg, sandbox_up, docker_client, tmp_path):
    """Real servers take tens of seconds to start: here the new one needs about 6 s (its
    healthcheck) and the move gives it 2. Nothing of the stage stays, and no chat fails."""
    reach(cfg, 1)
    d = deploy(cfg)
    files = {n: (d / n).read_bytes() for n in ("docker-compose.migrate.yml", "llm.env")}
    (old, _), = llm_containers(docker_client, sandbox_up).items()
    short = config_variant(cfg, tmp_path, **{"gates.wait_timeout": 2})
    with Events(sandbox_up) as events, Chats() as chats:
        done = invoke(short, "phase", "--stage", "2", "--yes", check=False)
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "the new llm-service did not come up" in out, out
    print(next(line.strip() for line in out.splitlines() if "the new one did not come up" in line))
    assert f"{old} kept running on the settings before and was not told to stop" in out and "rolled back" in out, out
    assert chats.failed == [], chats.failed[:5]
    # Docker's DNS named the new one before it was healthy, so it may have had chats: it was
    # stopped with SIGTERM (draining them) before it was removed, never killed outright
    new = [e for e in events.seen if e["Actor"]["Attributes"]["name"] != old]
    kills = [e["Actor"]["Attributes"].get("signal") for e in new if e["Action"] == "kill"]
    assert kills and kills[0] == "15" and any(e["Action"] == "destroy" for e in new), \
        [(e["Action"], e["Actor"]["Attributes"].get("signal")) for e in new]
    assert list(llm_containers(docker_client, sandbox_up)) == [old]
    assert {n: (d / n).read_bytes() for n in files} == files and state.current_stage(d) == 1
    assert "pending" not in state.read(d)


def test_two_llm_service_containers_left_by_a_stopped_move_are_named_and_made_one(cfg, sandbox_up, docker_client):
    """As a move killed between starting the new container and stopping the old leaves them."""
    reach(cfg, 1)
    d = deploy(cfg)
    argv = ["docker", "compose", "--project-name", sandbox_up, "--project-directory", str(d)]
    subprocess.run(argv + ["up", "-d", "--no-deps", "--no-recreate", "--scale", "llm-service=2", "--wait",
                           "llm-service"], check=True, capture_output=True, timeout=120)
    assert len(llm_containers(docker_client, sandbox_up)) == 2
    out = invoke(cfg, "phase", "--stage", "1", "--yes").stdout
    assert "note: llm-service has 2 containers" in out and "a move stopped half-way" in out, out
    assert "applied and verified" in out
    (only, env), = llm_containers(docker_client, sandbox_up).items()
    assert env["LLM_PROVIDER_WEIGHTS"] == "qwen:25,local:30"
    assert "nothing to do" in invoke(cfg, "phase", "--stage", "1", "--yes").stdout


def test_their_container_name_makes_the_move_stop_first_and_the_plan_says_why(cfg, sandbox_up, docker_client):
    reach(cfg, 1)
    d = deploy(cfg)
    base = d / "docker-compose.yml"
    theirs = base.read_bytes()
    name = f"{sandbox_up}-their-llm"
    edited = theirs.replace(b"\n  llm-service:\n", f"\n  llm-service:\n    container_name: {name}\n".encode(), 1)
    assert edited != theirs
    base.write_bytes(edited)
    try:
        plan = invoke(cfg, "phase", "--stage", "2", "--dry-run").stdout
        assert f"llm-service: stop-first (no llm-service answers while the new one starts): your file gives it " \
               f"container_name: {name}" in plan, plan
        done = invoke(cfg, "phase", "--stage", "2", "--yes")
        assert "applied and verified" in done.stdout and "starting 1 new container" not in done.stdout
        assert list(llm_containers(docker_client, sandbox_up)) == [name]
        assert llm_containers(docker_client, sandbox_up)[name]["LLM_PROVIDER_WEIGHTS"] == "qwen:70,local:30"
        assert httpx.post(endpoints.LLM + "/chat", json={"prompt": "hi"}, timeout=30).status_code == 200
        assert base.read_bytes() == edited, "their file was written"
    finally:
        base.write_bytes(theirs)
        invoke(cfg, "phase", "--stage", str(state.current_stage(d)), "--yes", "--force", check=False)
