"""The sandbox's own base docker-compose.yml (it stands for the operator's file): published on the
bind address only, the model volume declared, `$` kept literal for Compose."""
import copy

import pytest
import yaml

from core import config
from targets.compose_env.sandbox import base_file

from ...conftest import sandbox_data

DATA = sandbox_data()


def settings_with(**changes):
    data = copy.deepcopy(DATA)
    for dotted, value in changes.items():
        node = data["migrate"]
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return config.load(data, env={})


def test_every_published_port_is_on_the_bind_address():
    services = yaml.safe_load(base_file(settings_with()))["services"]
    ports = [p for svc in services.values() for p in svc.get("ports", [])]
    assert "127.0.0.1:18000:8000" in ports and all(p.startswith("127.0.0.1:") for p in ports), ports
    assert services["local-llm"]["container_name"] == "xiaozhi-local-llm"
    assert services["llm-service"]["depends_on"] == {"local-llm": {"condition": "service_healthy"}}


@pytest.mark.parametrize("bind, published", [("127.0.0.1", "127.0.0.1:18000:8000"), ("::1", "[::1]:18000:8000")])
def test_bind_is_an_address(bind, published):
    services = yaml.safe_load(base_file(settings_with(bind=bind)))["services"]
    assert services["llm-service"]["ports"] == [published]


def test_compose_values_escape_the_dollar():
    settings = settings_with(**{"local_llm.environment": {"OLLAMA_ORIGINS": "$HOME,a${X}"}})
    services = yaml.safe_load(base_file(settings))["services"]
    assert services["local-llm"]["environment"]["OLLAMA_ORIGINS"] == "$$HOME,a$${X}"


@pytest.mark.parametrize("store, mount_line, declared", [
    ("ollama", "ollama:/root/.ollama", True),
    ("./models", "./models:/root/.ollama", False),
    ("/srv/ollama", "/srv/ollama:/root/.ollama", False),
])
def test_model_store_as_named_volume_or_bind_mount(store, mount_line, declared):
    compose = yaml.safe_load(base_file(settings_with(**{"local_llm.store_volume": store})))
    assert ("volumes" in compose) is declared
    assert compose["services"]["local-llm"]["volumes"] == [mount_line]
