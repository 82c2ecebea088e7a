"""One table of the stack's services feeds config, the templates, drift and judge; one parser
reads the weights format for the toolkit and the sandbox alike."""
import pytest
import yaml

from checks import judge, stack
from core import config, services
from targets.compose_env.render import render

from ..conftest import ROOT

SETTINGS = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={"QWEN_API_KEY": "sk-test-123456"})


@pytest.mark.parametrize("service", services.STACK, ids=lambda s: s.name)
def test_each_service_of_the_table_is_rendered_judged_and_watched_for_drift(service):
    stage = SETTINGS.stage(2)
    files = render(SETTINGS, stage)
    compose = yaml.safe_load(files["docker-compose.migrate.yml"])
    env = compose["services"][service.name].get("environment") or {}
    if service.reads_weights:  # through its env file
        env = dict(line.split("=", 1) for line in files["llm.env"].splitlines() if "=" in line and line[0] != "#")
    assert str(env[service.limit_variable]).strip("'") == str(stage.limits[service.limit])
    assert set(judge.expected_env(stage)[service.name]) == set(service.drift_variables)
    assert stack.DRIFT_VARIABLES[service.name] == service.drift_variables
    assert service.name in config.STACK_SERVICES and service.limit in config.LIMIT_NAMES


@pytest.mark.parametrize("text, parsed", [
    ("qwen:70,local:30", {"qwen": 70, "local": 30}),
    ("local:30,qwen:70", {"qwen": 70, "local": 30}),  # any order
    (" qwen : 100 ", {"qwen": 100}),
])
def test_weights_parse(text, parsed):
    assert services.parse_weights(text) == parsed


@pytest.mark.parametrize("text", ["qwen:70;local:30", "qwen:70,qwen:30", "gpt:1", "qwen:1.5", "qwen:-1", "qwen"])
def test_weights_refused(text):
    with pytest.raises(ValueError, match="LLM_PROVIDER_WEIGHTS"):
        services.parse_weights(text)


def test_config_takes_either_order_and_renders_one_form():
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["stages"][2]["weights"] = "local:30,qwen:70"
    settings = config.load(data, env={"QWEN_API_KEY": "sk-test-123456"})
    assert settings.stage(2).weights == "qwen:70,local:30"
