import copy

import pytest
import yaml

from core import config
from core.errors import ConfigError

from ..conftest import ROOT

BASE = yaml.safe_load((ROOT / "defaults.yaml").read_text())


def with_change(path: str, value):
    data = copy.deepcopy(BASE)
    node = data["migrate"]
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    last = keys[-1]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


def test_defaults_load_into_typed_settings():
    settings = config.load(BASE, env={})
    assert list(settings.stages) == [0, 1, 2, 3]
    assert settings.stage(2).weights == "qwen:70,local:30"
    assert settings.stage(3).limits == {"vad": 32, "asr": 24, "tts": 30, "llm": 50}
    assert settings.stage(3).local_llm is False
    assert settings.local_llm.model == "qwen2:7b" and settings.local_llm.timeout == 30
    assert settings.api.probe_url == settings.api.base_url
    assert settings.api_key == ""


@pytest.mark.parametrize("env, expected", [
    ({"QWEN_API_KEY": "k1", "DASHSCOPE_API_KEY": "k2"}, "k1"),
    ({"DASHSCOPE_API_KEY": "k2"}, "k2"),
    ({"QWEN_API_KEY": "  ", "DASHSCOPE_API_KEY": "k2"}, "k2"),
    ({}, ""),
])
def test_key_comes_from_qwen_then_dashscope_variable(env, expected):
    assert config.load(BASE, env=env).api_key == expected


def test_key_never_shows_in_repr():
    assert "secret-123" not in repr(config.load(BASE, env={"QWEN_API_KEY": "secret-123"}))


@pytest.mark.parametrize("path, value, where", [
    ("deploy_dir", "", "migrate.deploy_dir"),
    ("project", "Bad Name", "migrate.project"),
    ("services.vad", "vad-server", "migrate.services.vad"),
    ("services", ["vad"], "migrate.services"),
    ("services.vad", {"compose_service": "bad name!"}, "migrate.services.vad.compose_service"),
    ("local_llm.compose_service", "", "migrate.local_llm.compose_service"),
    ("services.vad", {"image": 5}, "migrate.services.vad.image"),
    ("services.llm-service", {"publish": 70000}, "migrate.services.llm-service.publish"),
    ("services.llm-service", {"command": "python3 app.py"}, "migrate.services.llm-service.command"),
    ("local_llm.url", "localhost:11434", "migrate.local_llm.url"),
    ("local_llm.timeout", 0, "migrate.local_llm.timeout"),
    ("local_llm.concurrency", "20", "migrate.local_llm.concurrency"),
    ("local_llm.store_path", "/elsewhere", "migrate.local_llm.store_path"),
    ("local_llm.store_volume", "models dir", "migrate.local_llm.store_volume"),
    ("local_llm.store_volume", "./a:b", "migrate.local_llm.store_volume"),
    ("api.base_url", "ftp://x", "migrate.api.base_url"),
    ("api.concurrency", True, "migrate.api.concurrency"),
    ("api.ca_file", "/nonexistent/ca.pem", "migrate.api.ca_file"),
    ("api.ca_file", "/", "migrate.api.ca_file"),  # a directory
    ("api.ca_file", 5, "migrate.api.ca_file"),
    ("stages", [], "migrate.stages"),
    ("stages.2.weights", "qwen=70,local=30", "migrate.stages[2].weights"),
    ("stages.2.weights", "qwen:0,local:0", "migrate.stages[2].weights"),
    ("stages.3.weights", "qwen:90,local:10", "migrate.stages[3].weights"),
    ("stages.1.limits", {"vad": 1}, "migrate.stages[1].limits.asr"),
    ("stages.1.stage", 0, "migrate.stages[1].stage"),
    ("stages.0.local_llm", "yes", "migrate.stages[0].local_llm"),
    ("local_llm.runs_on", "Host", "migrate.local_llm.runs_on"),
    ("local_llm.runs_on", None, "migrate.local_llm.runs_on"),
    ("local_llm.runs_on", "host", "migrate.local_llm.url"),  # names the stack's container: not the host's
])
def test_invalid_values_name_the_dotted_key(path, value, where):
    with pytest.raises(ConfigError) as err:
        config.load(with_change(path, value), env={})
    assert err.value.where == where
    assert err.value.exit_code == 2


def test_unknown_stage_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"0 \(baseline\), 1 \(validate\), 2 \(shift\), 3 \(cutover\)"):
        config.load(BASE, env={}).stage(7)


def test_sandbox_overrides_merge_over_defaults():
    from invoke.config import Config
    from core import defaults
    c = Config(project_location=str(ROOT), runtime_path=str(ROOT / "sandbox.yaml"))
    c.load_collection(defaults.load())
    c.load_project()
    c.load_runtime()
    settings = config.load(c, env={"QWEN_API_KEY": "from-env"})
    assert settings.services["llm-service"].publish == 18000  # kept from defaults.yaml
    assert settings.services["llm-service"].command[-1] == "sandbox.llm_service"
    assert settings.api.probe_url.startswith("http://127.0.0.1:")
    assert settings.api_key.startswith("sk-sandbox-")  # the sandbox's own key wins there


@pytest.mark.parametrize("text, expected", [
    ("qwen:70,local:30", {"qwen": 70, "local": 30}), ("local:0 , qwen:100", {"local": 0, "qwen": 100}),
    ("qwen:100", {"qwen": 100}),
])
def test_parse_weights(text, expected):
    assert config.parse_weights(text) == expected


@pytest.mark.parametrize("text", ["qwen=70", "qwen:x", "qwen:1,qwen:2", "qwen:-1"])
def test_parse_weights_refuses(text):
    with pytest.raises(ValueError):
        config.parse_weights(text)


def test_a_ca_file_is_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "ca.pem").write_text("pem")
    monkeypatch.chdir(tmp_path)
    settings = config.load(with_change("api.ca_file", "ca.pem"), env={})
    assert settings.api.ca_file == str(tmp_path / "ca.pem")
    assert config.load(BASE, env={}).api.ca_file is None  # certifi's bundle


def test_the_operators_service_names_default_to_the_roles_and_can_be_mapped():
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"].pop("services", None)
    assert config.load(data, env={}).compose_names == {
        "vad": "vad", "asr": "asr", "tts": "tts", "llm-service": "llm-service", "local-llm": "local-llm"}
    data["migrate"]["services"] = {"asr": {"compose_service": "whisper"}}
    data["migrate"]["local_llm"]["compose_service"] = "ollama"
    names = config.load(data, env={}).compose_names
    assert names["asr"] == "whisper" and names["local-llm"] == "ollama" and names["vad"] == "vad"
