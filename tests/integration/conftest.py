"""Integration tests run against the real Docker engine and Compose v2, with the locally built
sandbox image. They never skip: without an engine they fail and say how to start one."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from . import endpoints

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")


@pytest.fixture(scope="session")
def docker_client():
    import docker
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        pytest.fail(f"integration tests need a running Docker engine ({exc}); run `bash scripts/setup.sh`")
    from rehearsal.sandbox_stack import SOURCE_LABEL, sources_digest
    try:
        built = client.images.get("xiaozhi-sandbox:latest").labels.get(SOURCE_LABEL)
    except docker.errors.ImageNotFound:
        built = None
    if built != sources_digest():
        pytest.fail("image xiaozhi-sandbox:latest is missing or older than sandbox/; "
                    "run `invoke -f sandbox.yaml sandbox.build`")
    return client


def invoke(config: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "invoke", "-f", str(config), *args]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})   # no terminal, as cron runs it: no question answered
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def sandbox_config(tmp_path_factory, docker_client):
    """sandbox.yaml with its own project name and deploy dir, so tests never touch a
    developer's running sandbox files."""
    data = endpoints.apply(yaml.safe_load((ROOT / "sandbox.yaml").read_text()),
                           str(tmp_path_factory.mktemp("deploy") / "live"))
    path = tmp_path_factory.mktemp("cfg") / "sandbox-test.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def project_resources(client, project: str) -> dict:
    label = {"label": f"com.docker.compose.project={project}"}
    return {"containers": [c.name for c in client.containers.list(all=True, filters=label)],
            "networks": [n.name for n in client.networks.list(filters=label)],
            "volumes": [v.name for v in client.volumes.list(filters=label)]}


@pytest.fixture(scope="module")
def sandbox_up(sandbox_config, docker_client):
    """The sandbox stack, up and healthy; removed afterwards even when a test fails."""
    project = yaml.safe_load(sandbox_config.read_text())["migrate"]["project"]
    try:
        invoke(sandbox_config, "sandbox.up")
        yield project
    finally:
        invoke(sandbox_config, "sandbox.down", check=False)
        leftovers = project_resources(docker_client, project)
        assert not any(leftovers.values()), f"sandbox.down left {leftovers}"


def compose_ps(config: Path) -> list[dict]:
    data = yaml.safe_load(config.read_text())["migrate"]
    argv = ["docker", "compose", "--project-name", data["project"], "--project-directory",
            data["deploy_dir"], "ps", "--all", "--format", "json"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def reach(config: Path, n: int, *, decommissioned: bool = False, env: dict | None = None) -> None:
    """Put the sandbox of ``config`` at stage ``n`` whatever an earlier test left, so that every
    test sets up the stage it needs and passes alone. A stage that uses the local LLM gets its
    model whole in the store (the volume is recreated if purged) and its containers converged;
    ``decommissioned`` makes sure the model is gone (stage 3)."""
    import docker
    from core import state
    from sandbox.store import Store, build
    data = yaml.safe_load(config.read_text())["migrate"]
    deploy, project = Path(data["deploy_dir"]), data["project"]
    client = docker.from_env()
    store = model_store(client, project)
    if n < 3:
        if store is None:
            client.volumes.create(f"{project}_ollama", labels={"com.docker.compose.project": project,
                                                              "com.docker.compose.volume": "ollama"})
            store = model_store(client, project)
        if Store(store).find("qwen2:7b") is None:
            build(store, size_gb=0.1)
    current = state.current_stage(deploy)
    if current is not None and current > n:
        invoke(config, "rollback", "--to", str(n), "--yes", env=env)
    for step in range((current or 0) + 1, n + 1):
        invoke(config, "phase", "--stage", str(step), "--yes", "--force", env=env)
    invoke(config, "phase", "--stage", str(n), "--yes", "--force", env=env)   # converges drift left behind
    if decommissioned and store is not None and Store(store).find("qwen2:7b") is not None:
        invoke(config, "decommission", "--yes", "--force", env=env)
    assert state.current_stage(deploy) == n


def model_store(client, project: str) -> Path | None:
    """The Ollama store on the sandbox's model volume, or None when the volume is gone."""
    import docker
    try:
        return Path(client.volumes.get(f"{project}_ollama").attrs["Mountpoint"]) / "models"
    except docker.errors.NotFound:
        return None


def config_variant(base: Path, tmp_path: Path, **changes) -> Path:
    """A copy of a test config with dotted keys changed, e.g. {'api.key': 'x'}."""
    data = yaml.safe_load(base.read_text())
    for dotted, value in changes.items():
        node = data["migrate"]
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    path = tmp_path / f"variant-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
