"""Rendering refuses what it cannot render safely, and writes what it renders so that Compose
reads it back exactly: hostile values from config or the environment (INVOKE_MIGRATE_*)."""
import copy

import pytest
import yaml

from core import config, envfile
from core.errors import ConfigError

from ...conftest import ROOT

BASE = yaml.safe_load((ROOT / "defaults.yaml").read_text())


def changed(path, value):
    data = copy.deepcopy(BASE)
    node = data["migrate"]
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return data


HOSTILE = [
    ("bind", "127.0.0.1:1:1\"]\n    privileged: true\n    x: [\"", "migrate.bind"),
    ("bind", "localhost", "migrate.bind"),
    ("extra_services", {"cache\n  evil": {"image": "x"}}, "migrate.extra_services.cache\n  evil"),
    ("extra_services", {"llm-service": {"image": "x"}}, "migrate.extra_services.llm-service"),
    ("extra_services", {"-x": {"image": "x"}}, "migrate.extra_services.-x"),
    ("local_llm.environment", {"A: b\n    privileged": "true"}, "migrate.local_llm.environment.A: b\n    privileged"),
    ("local_llm.environment", {"OK": "a\nLLM_PROVIDER_WEIGHTS=qwen:0,local:100"}, "migrate.local_llm.environment.OK"),
    ("api.base_url", "https://dashscope.example/v1\nLLM_PROVIDER_WEIGHTS=qwen:0,local:100", "migrate.api.base_url"),
    ("api.model", "qwen-plus\nQWEN_API_KEY=stolen", "migrate.api.model"),
    ("local_llm.model", "../../manifests/x", "migrate.local_llm.model"),
    ("local_llm.model", "qwen2:..", "migrate.local_llm.model"),
    ("local_llm.image", "ollama/ollama\u2028:latest", "migrate.local_llm.image"),
]


@pytest.mark.parametrize("path, value, where", HOSTILE)
def test_hostile_values_are_refused_naming_the_key(path, value, where):
    with pytest.raises(ConfigError) as err:
        config.load(changed(path, value), env={})
    assert err.value.where == where


VALUES = ["plain", "qwen:70,local:30", "http://x:1/v1", "a$b", "a#b", "a b", "  lead", "it's", "say \"hi\"",
          "back\\slash", "$'mixed'\"$\\", "#", "", "'", "中文"]


@pytest.mark.parametrize("value", VALUES)
def test_env_values_round_trip(value):
    assert envfile.parse("X=" + envfile.quote(value))["X"] == value


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "\x00", "tab\there", "\u200b"])
def test_env_values_with_control_characters_are_refused(value):
    with pytest.raises(ValueError):
        envfile.quote(value)


