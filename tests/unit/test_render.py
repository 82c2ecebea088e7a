import pytest
import yaml

from deploy import render as r
from deploy import review
from core import config
from core.errors import TemplateError

from ..conftest import ROOT

SETTINGS = config.load(yaml.safe_load((ROOT / "invoke.yaml").read_text()), env={"QWEN_API_KEY": "sk-real-0123456789abcdef"})

# stage -> (weights, local LLM in compose, VAD, ASR, TTS, LLM limits)
TABLE = [
    (0, "qwen:25,local:30", True, 24, 16, 20, 20),
    (1, "qwen:25,local:30", True, 24, 16, 20, 20),
    (2, "qwen:70,local:30", True, 24, 16, 20, 20),
    (3, "qwen:100,local:0", False, 32, 24, 30, 50),
]


def parse_env(text):
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize("stage, weights, local, vad, asr, tts, llm", TABLE)
def test_stage_renders_the_seed_plan(stage, weights, local, vad, asr, tts, llm):
    files = r.render(SETTINGS, SETTINGS.stage(stage))
    compose = yaml.safe_load(files["docker-compose.yml"])
    env = parse_env(files["llm.env"])
    services = compose["services"]
    assert env["LLM_PROVIDER_WEIGHTS"] == weights and env["LLM_MAX_CONCURRENT"] == str(llm)
    assert ("local-llm" in services) is local
    assert services["vad"]["environment"]["VAD_MAX_CONCURRENT"] == str(vad)
    assert services["asr"]["environment"]["ASR_MAX_CONCURRENT"] == str(asr)
    assert services["tts"]["environment"]["TTS_MAX_CONCURRENT"] == str(tts)
    assert ("depends_on" in services["llm-service"]) is local
    assert "ollama" in compose["volumes"], "the model volume must stay declared at every stage"
    if local:
        assert services["local-llm"]["container_name"] == "xiaozhi-local-llm"
        assert services["local-llm"]["ports"] == ["127.0.0.1:11434:11434"]


def test_every_published_port_is_on_the_bind_address():
    for stage in SETTINGS.stages.values():
        compose = yaml.safe_load(r.render(SETTINGS, stage)["docker-compose.yml"])
        for name, svc in compose["services"].items():
            for port in svc.get("ports", []):
                assert port.startswith("127.0.0.1:"), (stage.number, name, port)


def test_key_only_in_env_file_and_redacted_on_request():
    files = r.render(SETTINGS, SETTINGS.stage(2))
    assert parse_env(files["llm.env"])["QWEN_API_KEY"] == "sk-real-0123456789abcdef"
    assert "sk-real" not in files["docker-compose.yml"]
    redacted = r.render(SETTINGS, SETTINGS.stage(2), redact=True)
    assert all("sk-real" not in text for text in redacted.values())
    assert r.KEY_PLACEHOLDER in redacted["llm.env"]
    from core.secrets import redact
    assert redact("key=sk-real-0123456789abcdef!", SETTINGS.api_key) == f"key={r.KEY_PLACEHOLDER}!"
    assert redact("nothing", "") == "nothing"


def test_rendering_is_pure_and_deterministic():
    assert r.render(SETTINGS, SETTINGS.stage(1)) == r.render(SETTINGS, SETTINGS.stage(1))


@pytest.mark.parametrize("source, message", [
    ("name: {{ project }}\n{{ no_such_value }}\n", "no_such_value"),
    ("name: {{ project }}\n\n{% if %}\n", "file"),
])
def test_template_errors_name_file_and_line(tmp_path, source, message):
    (tmp_path / "docker-compose.yml.j2").write_text(source)
    (tmp_path / "llm.env.j2").write_text("x\n")
    with pytest.raises(TemplateError) as err:
        r.render(SETTINGS, SETTINGS.stage(0), templates=tmp_path)
    assert "docker-compose.yml.j2:" in err.value.where
    line = err.value.where.rsplit(":", 1)[1]
    assert line == ("2" if "no_such" in source else "3")


def test_committed_compose_dir_matches_templates():
    assert review.write_all("compose", check=True) == [], "run `invoke render` and commit compose/"


def test_review_check_reports_a_stale_file(tmp_path):
    review.write_all(tmp_path)
    stale = tmp_path / "stage-2" / "llm.env"
    stale.write_text(stale.read_text().replace("qwen:70", "qwen:60"))
    assert review.write_all(tmp_path, check=True) == [stale]
    assert "qwen:60" in stale.read_text(), "check must not write"


@pytest.mark.parametrize("store, mount_line, declared", [
    ("ollama", "ollama:/root/.ollama", True),
    ("./models", "./models:/root/.ollama", False),
    ("/srv/ollama", "/srv/ollama:/root/.ollama", False),
])
def test_model_store_as_named_volume_or_bind_mount(store, mount_line, declared):
    data = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    data["migrate"]["local_llm"]["store_volume"] = store
    settings = config.load(data, env={})
    for n in (0, 3):
        compose = yaml.safe_load(r.render(settings, settings.stage(n))["docker-compose.yml"])
        assert ("volumes" in compose) is declared
        if n == 0:
            assert compose["services"]["local-llm"]["volumes"] == [mount_line]


def test_bind_mounted_store_is_found_on_the_host(tmp_path):
    from decommission.locate import host_store, volume as _volume
    data = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    data["migrate"]["local_llm"]["store_volume"] = "./models"
    settings = config.load(data, env={})
    assert _volume(settings, client=None) is None
    assert host_store(settings, None) == tmp_path / "models" / "models"
