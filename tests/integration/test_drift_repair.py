"""A drift repair as an operator meets it: llm.env edited by hand and `docker compose up -d` run,
then `phase --stage 2` again. The plan names exactly the containers Compose restarts, and the
stage keeps the time it began (the stage-3 gate counts health records from it)."""
import json
import subprocess

import yaml


from core import state
from core import envfile

from .conftest import invoke


def started(docker_client, project):
    return {c.labels["com.docker.compose.service"]: c.attrs["State"]["StartedAt"]
            for c in docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})}


def test_drift_repair_restarts_what_it_says_and_keeps_the_stage_start(sandbox_config, sandbox_up, docker_client):
    settings = yaml.safe_load(sandbox_config.read_text())["migrate"]
    deploy, project = settings["deploy_dir"], settings["project"]
    for stage in ("1", "2"):
        invoke(sandbox_config, "phase", "--stage", stage, "--yes")
    began = state.read(deploy)["since"]

    env_path = f"{deploy}/{envfile.ENV_FILE}"
    text = open(env_path).read().replace("LLM_PROVIDER_WEIGHTS=qwen:70,local:30", "LLM_PROVIDER_WEIGHTS=qwen:10,local:90")
    open(env_path, "w").write(text)   # the operator's hand edit ...
    subprocess.run(["docker", "compose", "--project-name", project, "--project-directory", deploy, "up", "-d",
                    "--wait"], check=True, capture_output=True)   # ... and their `compose up`
    before = started(docker_client, project)

    done = invoke(sandbox_config, "phase", "--stage", "2", "--yes")
    predicted = next(line for line in done.stdout.splitlines() if line.strip().startswith("recreate:"))
    after = started(docker_client, project)
    restarted = sorted(name for name in before if after.get(name) != before[name])
    assert restarted == ["llm-service"], restarted
    assert predicted.strip().startswith("recreate: llm-service (these containers restart"), predicted
    record = state.read(deploy)
    assert record["since"] == began and record["applied"] > began and record["stage"] == 2
    entry = [e for e in state.audit_tail(deploy, 10) if e["event"] == "apply-start"][-1]
    assert entry["recreate"] == ["llm-service"], json.dumps(entry)
