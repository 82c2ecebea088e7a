"""The operator's docker-compose.yml stays theirs (issue 14), on the real engine: a rich file of
their own (volumes and a bind mount on asr, extra_hosts and a resource reservation on the local
LLM, logging through an `x-` anchor, a user network, env_file on vad, a service of their own)
walks 0 -> 1 -> 2 -> 3 -> rollback to 2. Their file stays byte-identical; the merged model is
theirs except what the migration owns; their service's container is never recreated or orphaned;
their own `docker compose` sees the same model; a planted orphan is named by status and health."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from . import endpoints
from .conftest import ROOT, config_variant, invoke, project_resources

OWNED_LABEL = "xiaozhi.migrate.fingerprint"


def enrich(base: str) -> str:
    """The sandbox's base file as an operator extends it by hand."""
    data = yaml.safe_load(base)
    s = data["services"]
    s["asr"]["volumes"] = ["asr-cache:/cache", "./asr-data:/data"]
    s["vad"]["env_file"] = ["vad.env"]
    s["local-llm"]["extra_hosts"] = ["host.docker.internal:host-gateway"]
    s["local-llm"]["deploy"] = {"resources": {"reservations": {"memory": "64m"}}}
    for name in ("llm-service", "local-llm"):
        s[name]["networks"] = ["default", "backend"]
    s["cache"] = {"image": s["vad"]["image"], "command": ["python3", "-m", "http.server", "9000"],
                  "restart": "unless-stopped"}
    data["volumes"]["asr-cache"] = {}
    data["networks"] = {"backend": {}}
    text = yaml.safe_dump(data, sort_keys=False, width=200)
    text = re.sub(r"^  ([a-z-]+):\n", lambda m: m.group(0) + "    logging: *logging\n", text, flags=re.M)
    return "# mine\nx-logging: &logging\n  driver: json-file\n  options: {max-size: 1m}\n" + text


def model(deploy: Path, *files: str) -> dict:
    argv = ["docker", "compose", "--project-directory", str(deploy)]
    for name in files:
        argv += ["-f", str(deploy / name)]
    return json.loads(subprocess.run(argv + ["config", "--format", "json"], capture_output=True, text=True,
                                     check=True).stdout)


def without_owned(merged: dict, original: dict) -> dict:
    """The merged model with what the migration owns taken out, to compare with their own."""
    merged = json.loads(json.dumps(merged))
    owned_env = {"VAD_MAX_CONCURRENT", "ASR_MAX_CONCURRENT", "TTS_MAX_CONCURRENT"}
    llm_env = set(merged["services"]["llm-service"].get("environment", {})) - set(
        original["services"]["llm-service"].get("environment", {}))
    for name, block in merged["services"].items():
        theirs = original["services"].get(name, {})
        (block.get("labels") or {}).pop(OWNED_LABEL, None)
        if not block.get("labels"):
            block.pop("labels", None)
        env = block.get("environment") or {}
        for var in owned_env | (llm_env if name == "llm-service" else set()):
            if var in env and env[var] != (theirs.get("environment") or {}).get(var):
                env[var] = (theirs.get("environment") or {}).get(var)
                if env[var] is None:
                    env.pop(var)
        if "environment" in block and not block["environment"] and "environment" not in theirs:
            block.pop("environment")
        if name == "llm-service" and "local-llm" in block.get("depends_on", {}):
            block["depends_on"]["local-llm"]["required"] = True
    return merged


@pytest.fixture(scope="module")
def walk(sandbox_config, docker_client, tmp_path_factory):
    project = endpoints.project()
    deploy = tmp_path_factory.mktemp("operator") / "live"
    config = config_variant(sandbox_config, tmp_path_factory.mktemp("cfg"), project=project, deploy_dir=str(deploy),
                            **{"gates.history_records": 1})
    qdir = None
    try:
        invoke(config, "sandbox.up")
        qdir = Path(docker_client.volumes.get(f"{project}_ollama").attrs["Mountpoint"]).parent.parent / f"{project}-q"
        config = config_variant(config, tmp_path_factory.mktemp("cfg"), **{"decommission.quarantine_dir": str(qdir)})
        base = enrich((deploy / "docker-compose.yml").read_text())
        (deploy / "docker-compose.yml").write_text(base)
        (deploy / "vad.env").write_text("VAD_MODE=aggressive\n")
        (deploy / "asr-data").mkdir()
        (deploy / "asr-data" / "theirs.txt").write_text("kept")
        yield config, deploy, project, base.encode()
    finally:
        invoke(config, "sandbox.down", check=False)
        if qdir is not None:
            shutil.rmtree(qdir, ignore_errors=True)
        assert not any(project_resources(docker_client, project).values())


def cache_container(docker_client, project):
    found = docker_client.containers.list(all=True, filters={"label": [f"com.docker.compose.project={project}",
                                                                          "com.docker.compose.service=cache"]})
    return [(c.id, c.attrs["State"]["StartedAt"], c.status) for c in found]


def test_every_stage_keeps_the_operators_file_and_additions(walk, docker_client):
    config, deploy, project, base = walk
    original = model(deploy, "docker-compose.yml")
    # Adoption brings their own service up with the rest; from then on it is never touched.
    done = invoke(config, "phase", "--stage", "0", "--yes")
    assert "left alone: cache" in done.stdout and "merged model" in done.stdout, done.stdout
    cache = cache_container(docker_client, project)
    assert len(cache) == 1 and cache[0][2] == "running"
    moves = [("phase", "--stage", "1"), ("phase", "--stage", "2"), ("health",), ("phase", "--stage", "3"),
             ("decommission.restore",), ("rollback", "--to", "2")]
    outputs = [done.stdout]
    for move in moves:
        done = invoke(config, *move, *(["--yes"] if move[0] in ("phase", "rollback", "decommission.restore") else []))
        outputs.append(done.stdout)
        assert (deploy / "docker-compose.yml").read_bytes() == base, f"{move} wrote their file"
        if move[0] == "health":
            continue
        merged = model(deploy, "docker-compose.yml", "docker-compose.migrate.yml")
        stage = json.loads((deploy / "state.json").read_text())["stage"]
        expected = json.loads(json.dumps(original))
        if stage == 3:  # out of the model, and with it the volume only it used (the volume itself stays)
            expected["services"].pop("local-llm")
            expected["volumes"].pop("ollama")
            assert docker_client.volumes.get(f"{project}_ollama")
        assert without_owned(merged, original) == expected, f"after {move}: the merged model lost something of theirs"
        assert cache_container(docker_client, project) == cache, f"{move} recreated or lost their service"
        asr = docker_client.containers.get(f"{project}-asr-1")
        assert {m["Destination"] for m in asr.attrs["Mounts"]} >= {"/cache", "/data"}
        assert asr.attrs["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
        if stage < 3:
            local = docker_client.containers.get("xiaozhi-local-llm")
            assert local.attrs["HostConfig"]["ExtraHosts"] == ["host.docker.internal:host-gateway"]
            assert f"{project}_backend" in local.attrs["NetworkSettings"]["Networks"]
    assert "ORPHAN" not in "\n".join(outputs)
    # Their own `docker compose` in the folder merges the same two files (COMPOSE_FILE in .env).
    theirs = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=deploy, capture_output=True,
                            text=True, check=True)
    assert OWNED_LABEL in json.loads(theirs.stdout)["services"]["vad"]["labels"]
    assert (deploy / ".env").read_text() == f"COMPOSE_FILE={deploy}/docker-compose.yml:{deploy}/docker-compose.migrate.yml\n"


def test_a_planted_orphan_is_named_by_status_and_health(walk, docker_client):
    config, deploy, project, _ = walk
    name = f"{project}-ghost-1"
    image = yaml.safe_load((ROOT / "sandbox.yaml").read_text())["migrate"]["sandbox"]["image"]
    docker_client.containers.run(image, ["sleep", "600"], name=name, detach=True, labels={
        "com.docker.compose.project": project, "com.docker.compose.service": "ghost"})
    try:
        status = invoke(config, "status").stdout
        assert f"ORPHAN: {name} (service ghost)" in status, status
        done = invoke(config, "health", "--json", "--no-record", check=False)
        checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
        assert checks["compose.orphans"]["status"] == "WARNING" and name in checks["compose.orphans"]["actual"]
        plan = invoke(config, "phase", "--stage", "2", "--dry-run").stdout
        assert f"ORPHAN: {name}" in plan
    finally:
        docker_client.containers.get(name).remove(force=True)
