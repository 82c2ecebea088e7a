"""Real Compose v2 merges every rendered stage over an operator's file; the engine being away is a
clear exit 3."""
import json
import subprocess

import pytest

from .conftest import ROOT, invoke


def merged(folder, *args, env=None):
    """`docker compose config` of the operator's file (conftest's) + the stage's override in ``folder``."""
    return subprocess.run(["docker", "compose", "--project-directory", str(folder), "-f", str(folder / "docker-compose.yml"),
                           "-f", str(folder / "docker-compose.migrate.yml"), "config", *args],
                          capture_output=True, text=True, **({"env": env} if env else {}))


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_compose_merges_every_rendered_stage_over_an_operators_file(stage, tmp_path):
    import shutil
    from ..conftest import OPERATOR_BASE
    for name in ("docker-compose.migrate.yml", "llm.env"):
        shutil.copy(ROOT / "compose" / f"stage-{stage}" / name, tmp_path / name)
    (tmp_path / "docker-compose.yml").write_text(OPERATOR_BASE)
    done = merged(tmp_path, "--format", "json")
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert ("local-llm" in services) is (stage < 3)   # stage 3: out of the model, though their file declares it
    assert services["llm-service"]["depends_on"]["local-llm"]["required"] is (stage < 3)
    # Their file sets no stop_grace_period: each service a move recreates gets the plan's grace
    # (35 s: the longest LLM call and a margin), not Compose's 10 s.
    assert "stop_grace_period" not in OPERATOR_BASE
    for name in ("vad", "asr", "tts", "llm-service") + (("local-llm",) if stage < 3 else ()):
        assert services[name]["stop_grace_period"] == "35s", (name, services[name].get("stop_grace_period"))


def test_engine_unreachable_is_a_clear_error(tmp_path):
    (tmp_path / "deploy").mkdir()
    from .conftest import config_variant
    config = config_variant(ROOT / "sandbox.yaml", tmp_path, deploy_dir=str(tmp_path / "deploy"))
    done = invoke(config, "phase", "--stage", "0", "--dry-run", check=False,
                  env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert done.returncode == 3 and "Docker engine is not reachable" in done.stderr and "Traceback" not in done.stderr


def test_compose_config_accepts_a_bind_mounted_store(tmp_path):
    import yaml
    from targets.compose_env.render import render
    from core import config
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["local_llm"]["store_volume"] = "./models"
    settings = config.load(data, env={})
    for name, text in render(settings, settings.stage(2), redact=True).items():
        (tmp_path / name).write_text(text)
    from targets.compose_env.sandbox import base_file
    from ..conftest import sandbox_data
    sandbox = sandbox_data()
    sandbox["migrate"]["local_llm"]["store_volume"] = "./models"
    (tmp_path / "docker-compose.yml").write_text(base_file(config.load(sandbox, env={})))
    done = merged(tmp_path, "--format", "json")
    assert done.returncode == 0, done.stderr
    mount = json.loads(done.stdout)["services"]["local-llm"]["volumes"][0]
    assert mount["type"] == "bind" and mount["source"] == str(tmp_path / "models")


HOSTILE_KEYS = ["sk-$HOME-${PATH}-$$-0001", "sk-#not-a-comment #0002", "sk-'single'-\"double\"-0003",
                "sk- spaced  key -0004", "sk-back\\slash\\n-0005"]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_compose_reads_the_rendered_env_file_back_byte_for_byte(tmp_path, key):
    """The key (and every other value) as real Compose reads llm.env: no interpolation of `$`, no
    `#` comment, quotes and backslashes kept."""
    import yaml
    from targets.compose_env.render import render
    from core import config
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["api"]["model"] = "qwen-plus#$x 'q'"
    settings = config.load(data, env={"QWEN_API_KEY": key})
    for name, text in render(settings, settings.stage(2)).items():
        (tmp_path / name).write_text(text)
    from ..conftest import OPERATOR_BASE
    (tmp_path / "docker-compose.yml").write_text(OPERATOR_BASE)
    done = merged(tmp_path, "--format", "json", env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": "/root"})
    assert done.returncode == 0, done.stderr
    env = json.loads(done.stdout)["services"]["llm-service"]["environment"]
    # `config` prints a literal $ as $$ (its own escaping for a file it could read again).
    assert env["QWEN_API_KEY"].replace("$$", "$") == key
    assert env["QWEN_MODEL"].replace("$$", "$") == "qwen-plus#$x 'q'"
    assert env["LLM_PROVIDER_WEIGHTS"] == "qwen:70,local:30"


GPU_BASE = """\
x-logging: &logging {driver: json-file, options: {max-size: 1m}}
services:
  vad: {image: xiaozhi/vad, logging: *logging, env_file: [vad.env]}
  asr: {image: xiaozhi/asr, volumes: ["asr-cache:/cache", "./asr-data:/data"]}
  tts: {image: xiaozhi/tts}
  llm-service: {image: xiaozhi/llm-service, depends_on: {local-llm: {condition: service_healthy}}}
  local-llm:
    image: ollama/ollama
    container_name: xiaozhi-local-llm
    extra_hosts: ["host.docker.internal:host-gateway"]
    deploy:
      resources:
        reservations:
          devices: [{driver: nvidia, count: 1, capabilities: [gpu]}]
volumes: {asr-cache: {}}
"""


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_a_gpu_reservation_of_theirs_survives_every_stage_in_the_merged_model(stage, tmp_path):
    """No GPU on this engine to start it on; Compose's own merge is what is checked here (the
    engine walk in test_operator_file.py reserves memory instead)."""
    import shutil
    for name in ("docker-compose.migrate.yml", "llm.env"):
        shutil.copy(ROOT / "compose" / f"stage-{stage}" / name, tmp_path / name)
    (tmp_path / "docker-compose.yml").write_text(GPU_BASE)
    (tmp_path / "vad.env").write_text("VAD_MODE=x\n")
    done = merged(tmp_path, "--format", "json")
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert services["vad"]["logging"]["options"] == {"max-size": "1m"} and services["vad"]["environment"]["VAD_MODE"] == "x"
    assert {v["target"] for v in services["asr"]["volumes"]} == {"/cache", "/data"}
    theirs = json.loads(subprocess.run(["docker", "compose", "--project-directory", str(tmp_path), "-f",
                                        str(tmp_path / "docker-compose.yml"), "config", "--format", "json"],
                                       capture_output=True, text=True, check=True).stdout)["services"]
    if stage < 3:
        local = services["local-llm"]
        assert local["deploy"] == theirs["local-llm"]["deploy"] and "devices" in str(local["deploy"])
        assert local["extra_hosts"] == theirs["local-llm"]["extra_hosts"]
        assert services["llm-service"]["depends_on"]["local-llm"] == {"condition": "service_healthy", "required": True}
    else:
        assert "local-llm" not in services
        assert services["llm-service"]["depends_on"]["local-llm"]["required"] is False


def test_a_longer_grace_of_theirs_stands_in_the_merged_model(tmp_path):
    import yaml
    from core import config
    from targets.compose_env.render import render
    from ..conftest import OPERATOR_BASE
    base = OPERATOR_BASE.replace("tts: {image: xiaozhi/tts}", "tts: {image: xiaozhi/tts, stop_grace_period: 2m}")
    settings = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={})
    (tmp_path / "docker-compose.yml").write_text(base)
    for name, text in render(settings, settings.stage(2), redact=True, base=base).items():
        (tmp_path / name).write_text(text)
    done = merged(tmp_path, "--format", "json")
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert services["tts"]["stop_grace_period"] == "2m0s" and services["asr"]["stop_grace_period"] == "35s"
