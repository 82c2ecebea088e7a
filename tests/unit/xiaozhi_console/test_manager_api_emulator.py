"""The manager-api emulator's answer to the server, from rows given by hand: upstream's
getAgentModels (device -> agent -> each model from the cache, the intent's and memory's llm added
to LLM), its error codes, and a cached model that stays stale until its key is deleted."""
import json

import pytest

from sandbox import manager_api as m

MODELS = {
    "LLM_OllamaLLM": '{"type":"ollama","model_name":"qwen2:7b","base_url":"http://xiaozhi-local-llm:11434"}',
    "LLM_MigrateApiLLM": '{"type":"openai","base_url":"http://dashscope/v1","model_name":"qwen-plus","api_key":"k"}',
    "Intent_intent_llm": '{"type": "intent_llm", "llm": "LLM_OllamaLLM"}',
    "Memory_nomem": '{"type": "nomem"}',
    "VAD_SileroVAD": '{"type": "silero"}',
}


class Cache(dict):
    def get(self, key):
        return super().get(key)

    def set(self, key, value, ex=None):
        self[key] = value


class Up(m.Upstream):
    def __init__(self, agent):
        super().__init__({}, Cache())
        self.agent = agent

    def query(self, sql, args=()):
        if "FROM ai_device" in sql:
            return [{"agent_id": "ag1"}] if args[0] == "02:00" else []
        if "FROM ai_agent" in sql:
            return [self.agent] if self.agent else []
        if "FROM sys_params" in sql:
            return [{"param_code": "device_max_output_size", "param_value": "0"}]
        if "FROM ai_model_config" in sql:
            found = MODELS.get(args[0])
            return [{c: None for c in m.COLUMNS} | {"id": args[0], "model_name": args[0], "config_json": found}] \
                if found else []
        raise AssertionError(sql)


AGENT = {"id": "ag1", "agent_name": "客厅", "llm_model_id": "LLM_OllamaLLM", "slm_model_id": None,
         "vad_model_id": "VAD_SileroVAD", "asr_model_id": None, "tts_model_id": None, "mem_model_id": "Memory_nomem",
         "intent_model_id": "Intent_intent_llm", "vllm_model_id": None, "chat_history_conf": 0,
         "system_prompt": "你是{{assistant_name}}", "summary_memory": None}


def test_a_device_gets_its_agent_s_llm_and_the_intent_s():
    answer = m.agent_models(Up(dict(AGENT, llm_model_id="LLM_MigrateApiLLM")), "02:00", {"VAD": "VAD_SileroVAD"})
    assert answer["selected_module"]["LLM"] == "LLM_MigrateApiLLM" and "VAD" not in answer["selected_module"]
    assert set(answer["LLM"]) == {"LLM_MigrateApiLLM", "LLM_OllamaLLM"} and answer["prompt"] == "你是客厅"


@pytest.mark.parametrize("mac, agent, code", [("ff:ff", AGENT, 10041), ("02:00", None, 10053)])
def test_upstream_s_error_codes(mac, agent, code):
    with pytest.raises(m.ApiError) as err:
        m.agent_models(Up(agent), mac, {})
    assert err.value.code == code


def test_a_cached_model_is_answered_stale_until_its_key_is_deleted():
    up = Up(AGENT)
    m.agent_models(up, "02:00", {})
    cached = json.loads(up.cache["model:data:Intent_intent_llm"])
    assert cached["@class"].endswith("ModelConfigEntity") and cached["configJson"]["@class"] == "cn.hutool.json.JSONObject"
    MODELS["Intent_intent_llm"] = '{"type": "intent_llm", "llm": "LLM_MigrateApiLLM"}'
    try:
        assert "LLM_OllamaLLM" in m.agent_models(up, "02:00", {})["LLM"]          # stale
        del up.cache["model:data:Intent_intent_llm"]
        assert "LLM_MigrateApiLLM" in m.agent_models(up, "02:00", {})["LLM"]      # fresh after the invalidation
    finally:
        MODELS["Intent_intent_llm"] = '{"type": "intent_llm", "llm": "LLM_OllamaLLM"}'
