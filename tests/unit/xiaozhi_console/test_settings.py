"""migrate.xiaozhi_console validated like the rest of the config: each bad value a ConfigError
naming its key."""
import pytest
import yaml

from core import config
from core.errors import ConfigError

from ...conftest import ROOT

DATA = yaml.safe_load((ROOT / "defaults.yaml").read_text())
DATA["migrate"]["target"] = "xiaozhi-console"


def load(**console):
    data = yaml.safe_load(yaml.safe_dump(DATA))
    data["migrate"]["xiaozhi_console"] = console
    return config.load(data, env={}, deployed_key=False)


def test_defaults_are_upstream_names():
    cs = load().sections["xiaozhi_console"]
    assert (cs.server_container, cs.db_container, cs.manager_url, cs.local_model, cs.split) == \
        ("xiaozhi-esp32-server", "xiaozhi-esp32-server-db", "http://127.0.0.1:8002/xiaozhi", "LLM_OllamaLLM", "requests")


@pytest.mark.parametrize("console, where", [
    ({"manager_url": "ftp://x"}, "manager_url"),
    ({"db_port": 0}, "db_port"),
    ({"agents": "all"}, "agents"),
    ({"agents": ["ok", "bad id; DROP"]}, "agents"),
    ({"split": "half"}, "split"),
    ({"local_model": "x" * 40}, "local_model"),
    ({"api_model": "LLM_OllamaLLM"}, "api_model"),
    ({"router_model": "LLM_MigrateApiLLM"}, "api_model"),
    ({"router_port": 70000}, "router_port"),
    ({"router_image": "bad image"}, "router_image"),
    ({"database": "x`; DROP"}, "database"),
    ({"sample_devices": 0}, "sample_devices"),
    ({"unknown": 1}, "unknown"),
])
def test_a_bad_value_names_its_key(console, where):
    with pytest.raises(ConfigError) as err:
        load(**console)
    assert where in err.value.where + err.value.what


def test_agents_local_means_every_agent_on_the_local_model():
    assert load(agents="local").sections["xiaozhi_console"].agents == ()
    assert load(agents=["a1"]).sections["xiaozhi_console"].agents == ("a1",)
