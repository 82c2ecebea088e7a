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
@pytest.mark.parametrize("front", [True, False])
def test_bind_is_an_address(bind, published, front):
    services = yaml.safe_load(base_file(settings_with(bind=bind), front=front))["services"]
    assert services["front" if front else "llm-service"]["ports"] == [published]


def test_llm_service_behind_the_front_publishes_nothing_and_is_called_by_name():
    """The shape that lets a move start the new llm-service first; the older one (front=False)
    publishes llm-service's port itself and has no front."""
    settings = settings_with(**{"services.llm-service.compose_service": "llm"})
    services = yaml.safe_load(base_file(settings))["services"]
    assert "ports" not in services["llm"] and "container_name" not in services["llm"]
    assert services["front"]["command"][-2:] == ["--upstream", "http://llm:8000"]
    older = yaml.safe_load(base_file(settings, front=False))["services"]
    assert "front" not in older and older["llm"]["ports"] == ["127.0.0.1:18000:8000"]


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


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_llm_front_must_be_true_or_false(value):
    from core.errors import ConfigError
    from rehearsal.sandbox_stack import sandbox_settings
    data = copy.deepcopy(DATA)
    data["migrate"]["sandbox"]["llm_front"] = value
    with pytest.raises(ConfigError, match="is not true or false") as err:
        sandbox_settings(data)
    assert err.value.where == "migrate.sandbox.llm_front"
    data["migrate"]["sandbox"]["llm_front"] = False
    assert sandbox_settings(data).llm_front is False
