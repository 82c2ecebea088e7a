"""Production as it runs: no key in any config file. The operator's shell has the key for
`phase`; cron has none, and `sudo` drops it. Health from an empty environment still checks the
API (through the deployed llm.env), and the stage-3 gate passes on cron-fed history alone."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from core import envfile

from . import endpoints
from .conftest import ROOT, invoke, project_resources, reach

KEY = "sk-sandbox-0000-not-a-real-key"   # the DashScope emulator's own; here it lives in the shell only
SHELL = {"QWEN_API_KEY": KEY}


@pytest.fixture(scope="module")
def prod(sandbox_config, tmp_path_factory, docker_client):
    data = yaml.safe_load(sandbox_config.read_text())
    data["migrate"]["api"].pop("key")
    data["migrate"]["project"] = endpoints.project()
    data["migrate"]["deploy_dir"] = str(tmp_path_factory.mktemp("prod") / "live")
    data["migrate"].setdefault("gates", {})["history_records"] = 3
    assert "key" not in json.dumps(data["migrate"]["api"])
    path = tmp_path_factory.mktemp("prodcfg") / "production-like.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        invoke(path, "sandbox.up", env=SHELL)
        yield path, data["migrate"]
    finally:
        invoke(path, "sandbox.down", check=False)
        assert not any(project_resources(docker_client, data["migrate"]["project"]).values())


def cron_like(config, *args):
    """What cron runs, as `env -i PATH=$PATH invoke ...`: nothing in the environment but PATH."""
    argv = [sys.executable, "-m", "invoke", "-f", str(config), *args]
    env = {"PATH": os.environ["PATH"]}
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


def test_keyless_health_at_stage_2_reads_the_deployed_key_and_the_gate_passes_from_its_history(prod):
    config, settings = prod
    reach(config, 0, env=SHELL)
    outputs = []
    for stage in ("1", "2"):
        done = invoke(config, "phase", "--stage", stage, "--yes", env=SHELL)
        outputs.append(done.stdout + done.stderr)
    deploy = settings["deploy_dir"]
    assert os.stat(os.path.join(deploy, envfile.ENV_FILE)).st_mode & 0o777 == 0o600
    for _ in range(3):
        done = cron_like(config, "health", "--json")
        outputs.append(done.stdout + done.stderr)
        checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
        assert checks["api.auth"]["status"] == "OK", checks["api.auth"]
        assert done.returncode == 0, done.stdout
    # sudo drops the key: a dry-run back to stage 1 neither shows nor needs it
    done = cron_like(config, "rollback", "--to", "1", "--dry-run")
    outputs.append(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    # stage 3 says everything it will do: the decommission's files and bytes, deleted for good
    done = invoke(config, "phase", "--stage", "3", "--dry-run", env=SHELL)
    outputs.append(done.stdout + done.stderr)
    preview = done.stdout.split("then, once the stage is verified, the local LLM is decommissioned:")[1]
    assert "blobs/sha256-" in preview and "bytes to free: 4400" in preview and "deleted for good" in preview
    assert "keep (shared with other models)" in preview and "dry run: nothing was changed" in preview
    assert "weight 0 once stage 3 is applied (want 0): ok" in preview and "NOT MET" not in preview
    before = open(os.path.join(deploy, envfile.ENV_FILE)).read()
    asked = subprocess.run([sys.executable, "-m", "invoke", "-f", str(config), "phase", "--stage", "3"], cwd=ROOT,
                           input="y\nn\n", capture_output=True, text=True, timeout=120, env={**os.environ, **SHELL})
    outputs.append(asked.stdout + asked.stderr)
    assert asked.returncode == 1 and "then DELETE 4.40 GB of model files for good" in asked.stdout, asked.stdout
    assert "not confirmed: nothing was changed" in asked.stderr
    assert open(os.path.join(deploy, envfile.ENV_FILE)).read() == before
    # the move to 3 is gated on the cron-fed history, with no --force (one --yes answers both)
    done = invoke(config, "phase", "--stage", "3", "--yes", env=SHELL)
    outputs.append(done.stdout + done.stderr)
    assert "gate history: passed" in done.stdout, done.stdout
    history = open(os.path.join(deploy, "health-history.jsonl")).read()
    audit = open(os.path.join(deploy, "audit.jsonl")).read()
    for text in [*outputs, history, audit]:
        assert KEY not in text


def test_a_keyless_rollback_keeps_the_deployed_key(prod):
    config, settings = prod
    reach(config, 2, env=SHELL)
    done = cron_like(config, "rollback", "--to", "1", "--yes")   # as after `sudo` without -E
    assert done.returncode == 0, done.stdout + done.stderr
    llm_env = envfile.parse(open(os.path.join(settings["deploy_dir"], envfile.ENV_FILE)).read())
    assert llm_env["QWEN_API_KEY"] == KEY, "a keyless rollback blanked the deployed key"
    assert KEY not in done.stdout + done.stderr
