"""The seam holds (issue 22): a third kind of stack, defined in the test (toy_target.py: a JSON file
served by one container of the sandbox image), registered by one line in each registry, walks
0 -> 3 -> back through the real CLI (`phase`, `status`, `health`, `rollback`) and the real engine;
a verification that fails is rolled back byte for byte, its file and its rows (a table of agents
outside the deploy folder, with someone else's agent in it). It touches nothing else."""
import json
import os
import socket
import subprocess
import sys
import uuid

import pytest
import yaml

from core import state

from . import endpoints
from .conftest import ROOT

STAGES = [{"stage": n, "name": name, "weights": "qwen:100,local:0", "local_llm": False, "requires_key": False,
           "limits": {"vad": 24, "asr": 16, "tts": 20, "llm": 20}}
          for n, name in enumerate(("baseline", "validate", "shift", "cutover"))]


AGENTS = [{"id": "a1", "model": "local", "name": "厨房"}, {"id": "a2", "model": "local", "name": "door"},
          {"id": "theirs", "model": "their-own-model", "name": "kept as it is"}]


def agents(toy) -> dict:
    return {row["id"]: row["model"] for row in json.loads(open(toy[2]["TOY_DB"]).read())["agents"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def toy(tmp_path_factory, docker_client):
    deploy = tmp_path_factory.mktemp("toy") / "deploy"
    deploy.mkdir(mode=0o700)
    project, port = f"{endpoints.PREFIX}-{uuid.uuid4().hex[:6]}", free_port()
    config = deploy.parent / "toy.yaml"
    config.write_text(yaml.safe_dump({"migrate": {
        "target": "toy", "deploy_dir": str(deploy), "project": project, "stages": STAGES,
        # Nothing of the toy listens here: the shared probes find the local model gone and no API key.
        "local_llm": {"probe_url": "http://127.0.0.1:9"}, "api": {"probe_url": "http://127.0.0.1:9/v1"},
        "gates": {"history_min_hours": 0, "by_stage": {"1": [], "2": [], "3": []}}}}))
    name = f"{project}-toy"
    container = docker_client.containers.run(
        "xiaozhi-sandbox:latest", ["python3", "-m", "http.server", "8000", "--directory", "/data"], name=name,
        detach=True, volumes={str(deploy): {"bind": "/data", "mode": "ro"}},
        ports={"8000/tcp": ("127.0.0.1", port)}, labels={"com.docker.compose.project": project})
    table = deploy.parent / "agents.json"   # the "database": not in the deploy folder
    table.write_text(json.dumps({"agents": AGENTS}, ensure_ascii=False, indent=1) + "\n")
    env = {"TOY_CONTAINER": name, "TOY_URL": f"http://127.0.0.1:{port}/toy.json", "TOY_DB": str(table)}
    try:
        yield config, deploy, env
    finally:
        container.remove(force=True)


def cli(toy, *args):
    config, _, env = toy
    done = subprocess.run([sys.executable, "-m", "tests.integration.toy_cli", "-f", str(config), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**{k: v for k, v in os.environ.items() if k not in ("QWEN_API_KEY", "DASHSCOPE_API_KEY")},
                               **env})
    return done.returncode, done.stdout + done.stderr


def test_the_toy_walks_every_stage_and_back_through_the_cli_and_the_engine(toy):
    _, deploy, _ = toy
    for n in (0, 1, 2, 3):
        code, out = cli(toy, "phase", "--stage", str(n), "--yes")
        assert code == 0, out
        assert f"stage {n} ({STAGES[n]['name']}) applied and verified; toy restarted in" in out
        assert json.loads((deploy / "toy.json").read_text())["stage"] == n and state.current_stage(deploy) == n
    assert agents(toy) == {"a1": "api", "a2": "api", "theirs": "their-own-model"}
    saved = next(e["backup"] for e in reversed(state.audit_tail(deploy, 10)) if e["event"] == "apply-start")
    assert sorted(p.name for p in (deploy / "backups" / saved / "rows").iterdir())[0].startswith("000-agents-")
    code, out = cli(toy, "phase", "--stage", "3", "--yes")
    assert code == 0 and "already at stage 3, nothing to do" in out
    code, out = cli(toy, "status")
    assert code == 0 and "toy stage 3; serves {'stage': 3" in out, out
    code, out = cli(toy, "health", "--json")
    checks = {c["name"]: c["status"] for c in json.loads(out[out.index("{"):])["checks"]}
    assert checks["toy.served"] == "OK" and checks["local.port"] == "OK", checks
    assert not any(name.startswith(("container.", "server.", "router")) for name in checks), checks
    assert code == 1 and checks["api.auth"] == "WARNING"   # no key anywhere: said, not fatal at these stages

    # A verification that fails (the container stopped): the file comes back byte for byte.
    before, table = (deploy / "toy.json").read_bytes(), open(toy[2]["TOY_DB"], "rb").read()
    (deploy / "toy.break").write_text("")
    code, out = cli(toy, "rollback", "--to", "2", "--yes")
    assert code == 6 and "stage 2 failed and was rolled back" in out and "toy serves None" in out, out
    assert (deploy / "toy.json").read_bytes() == before and state.current_stage(deploy) == 3
    assert "restored 2 row(s) of agents" in out and open(toy[2]["TOY_DB"], "rb").read() == table, out
    assert "pending" not in state.read(deploy) and state.audit_tail(deploy, 1)[0]["event"] == "rolled-back"
    (deploy / "toy.break").unlink()
    code, out = cli(toy, "rollback", "--to", "0", "--yes")
    assert code == 0 and json.loads((deploy / "toy.json").read_text())["stage"] == 0, out
    assert agents(toy) == {"a1": "local", "a2": "local", "theirs": "their-own-model"}
    # Only its own folder was written: the toy's file, the state, the audit log, its backups.
    assert sorted(p.name for p in deploy.iterdir()) == [".migrate.lock", "audit.jsonl", "backups",
                                                         "health-history.jsonl", "state.json", "toy.json"]
