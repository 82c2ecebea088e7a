"""The router's config: one group shuffled by the stage's weights, retries, the API alone as the
fallback, the key and master key read from the environment (never written)."""
import pytest
import yaml

from core.errors import ConfigError
from litellm_router import router

SPEC = router.RouterSpec(local=router.Backend("qwen2:7b", "http://xiaozhi-local-llm:11434", 30),
                         api=router.Backend("qwen-plus", "https://dashscope.aliyuncs.com/compatible-mode/v1", 30))


@pytest.mark.parametrize("weights, local, api", [({"qwen": 70, "local": 30}, 30, 70), ({"qwen": 100}, 0, 100),
                                                 ({"local": 1}, 1, 0)])
def test_the_group_is_weighted_as_the_stage_says(weights, local, api):
    config = yaml.safe_load(router.render(SPEC, weights))
    group = [m["litellm_params"] for m in config["model_list"] if m["model_name"] == router.GROUP]
    assert [(p["model"], p["weight"]) for p in group] == [("ollama_chat/qwen2:7b", local), ("openai/qwen-plus", api)]
    assert group[0]["api_base"] == "http://xiaozhi-local-llm:11434"
    assert group[1]["extra_body"] == {"enable_thinking": False}
    fallback = [m for m in config["model_list"] if m["model_name"] == router.FALLBACK]
    assert len(fallback) == 1 and fallback[0]["litellm_params"]["model"] == "openai/qwen-plus"
    rs = config["router_settings"]
    assert rs["routing_strategy"] == "simple-shuffle" and rs["fallbacks"] == [{router.GROUP: [router.FALLBACK]}]
    assert rs["num_retries"] == 2


def test_secrets_stay_in_the_environment():
    text = router.render(SPEC, {"qwen": 70, "local": 30})
    config = yaml.safe_load(text)
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert {m["litellm_params"].get("api_key") for m in config["model_list"]} == {None, "os.environ/DASHSCOPE_API_KEY"}
    assert "sk-" not in text


@pytest.mark.parametrize("weights", [{}, {"qwen": 0, "local": 0}, {"qwen": -1, "local": 1}])
def test_no_traffic_to_route_is_refused(weights):
    with pytest.raises(ConfigError, match="no traffic to route"):
        router.render(SPEC, weights)


def test_hostile_names_stay_values():
    spec = router.RouterSpec(local=router.Backend("qwen2:7b\nmaster_key: x", "http://a:1", 30), api=SPEC.api)
    config = yaml.safe_load(router.render(spec, {"qwen": 1, "local": 1}))
    assert config["model_list"][0]["litellm_params"]["model"] == "ollama_chat/qwen2:7b\nmaster_key: x"
    assert "master_key" not in config["model_list"][0]["litellm_params"]


@pytest.mark.parametrize("model, url", [("qwen$plus", "https://gw.example/v1"), ("qwen-plus", "https://gw/$tenant/v1"),
                                        ("qwen$$x", "https://a/$${b}")])
def test_a_dollar_reaches_litellm_as_it_is(model, url):
    """LiteLLM does not interpolate `$` (Compose does, in the override: that one doubles it)."""
    spec = router.RouterSpec(local=SPEC.local, api=router.Backend(model, url, 30))
    params = yaml.safe_load(router.render(spec, {"qwen": 1, "local": 1}))["model_list"][1]["litellm_params"]
    assert params["model"] == "openai/" + model and params["api_base"] == url
