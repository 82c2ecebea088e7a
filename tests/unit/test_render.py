"""Rendering a stage: the Compose override holds only what the migration owns, under the
operator's service names; llm.env holds llm-service's settings and the key."""
import pytest
import yaml

from targets.compose_env import render as r
from orchestration import review
from core import config
from core.errors import TemplateError

from ..conftest import ROOT

SETTINGS = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={"QWEN_API_KEY": "sk-real-0123456789abcdef"})
OWNED_KEYS = {"environment", "labels", "env_file", "depends_on", "profiles", "stop_grace_period"}

# stage -> (weights, local LLM in the model, VAD, ASR, TTS, LLM limits)
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
    assert set(files) == {"docker-compose.migrate.yml", "llm.env"}, "the operator's docker-compose.yml is never rendered"
    services = yaml.safe_load(files["docker-compose.migrate.yml"])["services"]
    env = parse_env(files["llm.env"])
    assert env["LLM_PROVIDER_WEIGHTS"] == weights and env["LLM_MAX_CONCURRENT"] == str(llm)
    assert ("local-llm" in r.in_model(files)) is local
    assert services["vad"]["environment"] == {"VAD_MAX_CONCURRENT": str(vad)}
    assert services["asr"]["environment"] == {"ASR_MAX_CONCURRENT": str(asr)}
    assert services["tts"]["environment"] == {"TTS_MAX_CONCURRENT": str(tts)}
    assert services["llm-service"]["env_file"] == ["llm.env"]
    # At stage 3 the operator's depends_on on the local LLM stops binding; before, theirs stands.
    assert services["llm-service"].get("depends_on") == (None if local else {"local-llm": {"required": False}})
    for name, block in services.items():
        assert set(block) <= OWNED_KEYS, (name, set(block) - OWNED_KEYS)
        if "labels" in block:   # every service a move may recreate: the grace the plan promises
            assert block["stop_grace_period"] == f"{SETTINGS.stop_grace_s}s", name


def test_the_operators_service_names_are_used():
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["services"] = {"asr": {"compose_service": "whisper"}, "llm-service": {"compose_service": "llm"}}
    data["migrate"]["local_llm"]["compose_service"] = "ollama"
    settings = config.load(data, env={})
    for n in (2, 3):
        services = yaml.safe_load(r.render(settings, settings.stage(n))["docker-compose.migrate.yml"])["services"]
        assert set(services) == {"vad", "whisper", "tts", "llm", "ollama"}
    assert services["llm"]["depends_on"] == {"ollama": {"required": False}}
    assert services["ollama"]["profiles"] == ["xiaozhi-migrate-off"]


def test_key_only_in_env_file_and_redacted_on_request():
    files = r.render(SETTINGS, SETTINGS.stage(2))
    assert parse_env(files["llm.env"])["QWEN_API_KEY"] == "sk-real-0123456789abcdef"
    assert "sk-real" not in files["docker-compose.migrate.yml"]
    redacted = r.render(SETTINGS, SETTINGS.stage(2), redact=True)
    assert all("sk-real" not in text for text in redacted.values())
    assert r.KEY_PLACEHOLDER in redacted["llm.env"]
    from core.secrets import redact
    assert redact("key=sk-real-0123456789abcdef!", SETTINGS.api_key) == f"key={r.KEY_PLACEHOLDER}!"
    assert redact("nothing", "") == "nothing"


def test_rendering_is_pure_and_deterministic():
    assert r.render(SETTINGS, SETTINGS.stage(1)) == r.render(SETTINGS, SETTINGS.stage(1))


@pytest.mark.parametrize("source, message", [
    ("services:\n{{ no_such_value }}\n", "no_such_value"),
    ("services:\n\n{% if %}\n", "file"),
])
def test_template_errors_name_file_and_line(tmp_path, source, message):
    (tmp_path / "docker-compose.migrate.yml.j2").write_text(source)
    (tmp_path / "llm.env.j2").write_text("x\n")
    with pytest.raises(TemplateError) as err:
        r.render(SETTINGS, SETTINGS.stage(0), templates=tmp_path)
    assert "docker-compose.migrate.yml.j2:" in err.value.where
    line = err.value.where.rsplit(":", 1)[1]
    assert line == ("2" if "no_such" in source else "3")


def test_committed_compose_dir_matches_templates():
    from orchestration import review as both
    assert both.write_all("compose", check=True) == [], "run `invoke render` and commit compose/"


def test_review_check_reports_a_stale_file(tmp_path):
    review.write_all(tmp_path)
    stale = tmp_path / "stage-2" / "llm.env"
    stale.write_text(stale.read_text().replace("qwen:70", "qwen:60"))
    assert review.write_all(tmp_path, check=True) == [stale]
    assert "qwen:60" in stale.read_text(), "check must not write"


def test_bind_mounted_store_is_found_on_the_host(tmp_path):
    from decommission.locate import host_store, volume as _volume
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    data["migrate"]["local_llm"]["store_volume"] = "./models"
    settings = config.load(data, env={})
    assert _volume(settings, client=None) is None
    assert host_store(settings, None) == tmp_path / "models" / "models"


@pytest.mark.parametrize("value, expected", [("45s", 45), ("1m30s", 90), ("2m", 120), (60, 60), ("1h", 3600),
                                             ("500ms", 0.5), ("${GRACE}", None), ("soon", None), ("10", None)])
def test_compose_durations(value, expected):
    from core import composefile
    assert composefile.seconds(value) == expected


@pytest.mark.parametrize("theirs, ours_kept", [("2m", False), ("35s", False), ("${GRACE}", False), ("5s", True),
                                               (None, True)])
def test_a_longer_grace_of_theirs_is_never_shortened(theirs, ours_kept):
    from ..conftest import OPERATOR_BASE
    base = OPERATOR_BASE.replace("tts: {image: xiaozhi/tts}", "tts: {image: xiaozhi/tts" +
                                 (f", stop_grace_period: '{theirs}'" if theirs else "") + "}")
    services = yaml.safe_load(r.render(SETTINGS, SETTINGS.stage(2), base=base)["docker-compose.migrate.yml"])["services"]
    assert ("stop_grace_period" in services["tts"]) is ours_kept
    assert services["asr"]["stop_grace_period"] == f"{SETTINGS.stop_grace_s}s"


@pytest.mark.parametrize("theirs, timeout", [(None, 35), ("2m", 120), ("10s", 35), ("${GRACE}", 35)])
def test_compose_up_waits_as_long_as_the_longest_grace(tmp_path, theirs, timeout):
    import dataclasses
    from targets.compose_env.apply import grace_timeout
    from ..conftest import OPERATOR_BASE
    base = OPERATOR_BASE.replace("tts: {image: xiaozhi/tts}", "tts: {image: xiaozhi/tts" +
                                 (f", stop_grace_period: '{theirs}'" if theirs else "") + "}")
    (tmp_path / "docker-compose.yml").write_text(base)
    assert grace_timeout(dataclasses.replace(SETTINGS, deploy_dir=tmp_path)) == timeout
