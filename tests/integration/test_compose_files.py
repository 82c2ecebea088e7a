"""Real Compose v2 accepts every rendered stage; the engine being away is a clear exit 3."""
import subprocess

import pytest

from .conftest import ROOT, invoke


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_compose_config_accepts_every_rendered_stage(stage):
    folder = ROOT / "compose" / f"stage-{stage}"
    done = subprocess.run(["docker", "compose", "--project-directory", str(folder), "-f",
                           str(folder / "docker-compose.yml"), "config", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_engine_unreachable_is_a_clear_error(tmp_path):
    (tmp_path / "deploy").mkdir()
    from .conftest import config_variant
    config = config_variant(ROOT / "sandbox.yaml", tmp_path, deploy_dir=str(tmp_path / "deploy"))
    done = invoke(config, "phase", "--stage", "0", "--dry-run", check=False,
                  env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert done.returncode == 3 and "Docker engine is not reachable" in done.stderr and "Traceback" not in done.stderr


def test_compose_config_accepts_a_bind_mounted_store(tmp_path):
    import yaml
    from deploy.render import render
    from core import config
    data = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    data["migrate"]["local_llm"]["store_volume"] = "./models"
    settings = config.load(data, env={})
    for name, text in render(settings, settings.stage(2), redact=True).items():
        (tmp_path / name).write_text(text)
    done = subprocess.run(["docker", "compose", "--project-directory", str(tmp_path), "-f",
                           str(tmp_path / "docker-compose.yml"), "config", "--format", "json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import json
    mount = json.loads(done.stdout)["services"]["local-llm"]["volumes"][0]
    assert mount["type"] == "bind" and mount["source"] == str(tmp_path / "models")


HOSTILE_KEYS = ["sk-$HOME-${PATH}-$$-0001", "sk-#not-a-comment #0002", "sk-'single'-\"double\"-0003",
                "sk- spaced  key -0004", "sk-back\\slash\\n-0005"]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_compose_reads_the_rendered_env_file_back_byte_for_byte(tmp_path, key):
    """The key (and every other value) as real Compose reads llm.env: no interpolation of `$`, no
    `#` comment, quotes and backslashes kept."""
    import json
    import yaml
    from deploy.render import render
    from core import config
    data = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    data["migrate"]["api"]["model"] = "qwen-plus#$x 'q'"
    settings = config.load(data, env={"QWEN_API_KEY": key})
    for name, text in render(settings, settings.stage(2)).items():
        (tmp_path / name).write_text(text)
    done = subprocess.run(["docker", "compose", "--project-directory", str(tmp_path), "-f",
                           str(tmp_path / "docker-compose.yml"), "config", "--format", "json"],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": "/root"})
    assert done.returncode == 0, done.stderr
    env = json.loads(done.stdout)["services"]["llm-service"]["environment"]
    # `config` prints a literal $ as $$ (its own escaping for a file it could read again).
    assert env["QWEN_API_KEY"].replace("$$", "$") == key
    assert env["QWEN_MODEL"].replace("$$", "$") == "qwen-plus#$x 'q'"
    assert env["LLM_PROVIDER_WEIGHTS"] == "qwen:70,local:30"
