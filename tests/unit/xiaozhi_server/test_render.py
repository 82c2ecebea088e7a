"""A stage's files for the xiaozhi-server target: their config file as the stage makes it, and the
router (service in the override, its config, its env file) only at the split stage."""
import pytest
import yaml

from core import config, envfile
from core.errors import ConfigError
from targets.xiaozhi_server import render as r
from litellm_router import router
from targets.xiaozhi_server import server_config as sc, stages
from targets.xiaozhi_server.settings import XiaozhiServer

from ...conftest import ROOT
from .test_server_config import RICH

SETTINGS = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={})
SPEC = router.RouterSpec(local=router.Backend("qwen2:7b", "http://xiaozhi-local-llm:11434", 30),
                         api=router.Backend("qwen-plus", "https://dashscope.aliyuncs.com/compatible-mode/v1", 30))
API = {"type": "openai", "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1", "model_name": "qwen-plus"}
KEY, MASTER = "sk-real-0123456789", "sk-master-$weird#1"


def files(n):
    return r.render(RICH, SETTINGS.stage(n), XiaozhiServer(), SPEC, API, KEY, MASTER)[0]


@pytest.mark.parametrize("n, selected", [(0, "OllamaLLM"), (1, "OllamaLLM"), (2, stages.ROUTER_ENTRY),
                                         (3, stages.API_ENTRY)])
def test_each_stage_renders_its_files(n, selected):
    out = files(n)
    assert sc.selected_llm(sc.load(out[r.CONFIG_FILE])) == selected
    services = yaml.safe_load(out[r.OVERRIDE_FILE])["services"]
    assert (services != {}) is (n == 2) and (out[r.ROUTER_CONFIG] is not None) is (n == 2)
    if n == 2:
        router_service = services["xiaozhi-router"]
        assert router_service["image"] == "xiaozhi-litellm:1.108.7" and router_service["env_file"] == ["router.env"]
        assert router_service["volumes"] == ["./litellm.yaml:/etc/litellm/config.yaml:ro"]
        weights = [m["litellm_params"]["weight"] for m in yaml.safe_load(out[r.ROUTER_CONFIG])["model_list"]
                   if m["model_name"] == router.GROUP]
        assert weights == [30, 70]
        assert envfile.parse(out[r.ROUTER_ENV]) == {"DASHSCOPE_API_KEY": KEY, "LITELLM_MASTER_KEY": MASTER}
        assert sc.load(out[r.CONFIG_FILE])["LLM"][stages.ROUTER_ENTRY]["base_url"] == "http://xiaozhi-router:4000/v1"


def test_the_key_is_only_in_the_secret_files():
    for n in range(4):
        for name, text in files(n).items():
            if text is not None and name not in r.SECRET_FILES:
                assert KEY not in text and MASTER not in text, (n, name)


@pytest.mark.parametrize("field, value", [("local_entry", "Ollama LLM"), ("router_service", "../x"),
                                          ("container", "a\nb"), ("router_port", 0), ("ota_url", "ftp://x"),
                                          ("router_image", "img; rm -rf /"), ("restart_timeout", "soon")])
def test_hostile_settings_are_refused(field, value):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["xiaozhi_server"] = {field: value}
    with pytest.raises(ConfigError) as err:
        config.load(data, env={})
    assert err.value.where == f"migrate.xiaozhi_server.{field}"


def test_the_stage_files_come_from_settings():
    """The API entry speaks to api.base_url; the router reaches the stack's URLs, not the probes'."""
    out, _ = r.for_stage(SETTINGS, SETTINGS.stage(2), RICH, MASTER, key=KEY)
    api = sc.load(out[r.CONFIG_FILE])["LLM"][stages.API_ENTRY]
    assert (api["base_url"], api["model_name"], api["api_key"]) == (SETTINGS.api.base_url, SETTINGS.api.model, KEY)
    assert router.weights_of(out[r.ROUTER_CONFIG]) == {"local": 30, "qwen": 70}
    assert SETTINGS.local_llm.url in out[r.ROUTER_CONFIG] and SETTINGS.local_llm.probe_url not in out[r.ROUTER_CONFIG]


@pytest.mark.parametrize("url, mapped", [("http://host.docker.internal:11434", True),
                                         ("http://xiaozhi-local-llm:11434", False)])
def test_a_router_that_reaches_an_ollama_on_the_host_maps_host_docker_internal(url, mapped):
    """Linux's engine resolves host.docker.internal only where a container maps it to host-gateway."""
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"].update(target="xiaozhi-server")
    data["migrate"]["local_llm"].update(url=url, runs_on="host" if mapped else "container")
    settings = config.load(data, env={})
    out = r.for_stage(settings, settings.stage(2), RICH, MASTER, key=KEY)[0]
    router_service = yaml.safe_load(out[r.OVERRIDE_FILE])["services"]["xiaozhi-router"]
    assert router_service.get("extra_hosts") == (["host.docker.internal:host-gateway"] if mapped else None)
    assert all("extra_hosts" not in block
               for block in yaml.safe_load(r.for_stage(settings, settings.stage(3), RICH, MASTER, key=KEY)[0]
                                           [r.OVERRIDE_FILE])["services"].values())
