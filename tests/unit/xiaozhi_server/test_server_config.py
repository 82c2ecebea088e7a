"""The user's data/.config.yaml edited round-trip: every byte the toolkit does not own survives;
the full deployment (manager-api.url) and a broken file are refused with nothing changed."""
import difflib

import pytest

from core.errors import ConfigError, Refused
from targets.xiaozhi_server import server_config as sc

RICH = """\
# 我的小智配置 (mine)
server:
  ip: 0.0.0.0
  port: 8000
  auth_key: 'my-own-secret'   # keep quoted
selected_module:
  VAD: SileroVAD
  ASR: FunASR
  LLM: OllamaLLM    # the local one
  TTS: EdgeTTS
  Intent: function_call
Intent:
  function_call:
    type: function_call
  intent_llm:
    type: intent_llm
    llm: OllamaLLM
Memory:
  mem_local_short:
    type: mem_local_short
    llm: OllamaLLM
LLM:
  OllamaLLM:
    type: ollama
    model_name: "qwen2:7b"
    base_url: http://xiaozhi-local-llm:11434
  AliLLM:
    type: openai
    base_url: https://dashscope.aliyuncs.com/compatible-mode/v1
    model_name: qwen-flash
    api_key: "你的key"
    temperature: 0.7
prompt: |
  你是小智，一个可爱的助手。
  Keep it short.
plugins: {weather: {api_key: abc}, news: [a, b]}
"""


def changed_lines(before: str, after: str) -> list[str]:
    return [l for l in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if l[:1] in "+-" and not l.startswith(("+++", "---"))]


def test_a_load_and_dump_changes_nothing():
    assert sc.dump(sc.load(RICH)) == RICH


def test_selecting_an_entry_changes_that_value_only_and_keeps_its_comment():
    data = sc.load(RICH)
    sc.select_llm(data, "MigrateRouterLLM")
    removed, added = changed_lines(RICH, sc.dump(data))
    assert removed == "-  LLM: OllamaLLM    # the local one"
    assert added.startswith("+  LLM: MigrateRouterLLM ") and added.endswith(" # the local one")


def test_an_owned_entry_is_added_after_theirs_and_removed_again_byte_for_byte():
    data = sc.load(RICH)
    sc.put_entry(data, "MigrateRouterLLM", {"type": "openai", "base_url": "http://xiaozhi-router:4000/v1",
                                            "model_name": "xiaozhi-llm", "api_key": "os-env"})
    text = sc.dump(data)
    assert all(line.startswith("+") for line in changed_lines(RICH, text))
    assert sc.merged({}, sc.load(text))["LLM"]["MigrateRouterLLM"]["base_url"] == "http://xiaozhi-router:4000/v1"
    sc.remove_entry(data, "MigrateRouterLLM")
    assert sc.dump(data) == RICH


def test_cut_over_retargets_intent_and_memory_only_where_they_name_the_local_entry():
    data = sc.load(RICH)
    assert sc.retarget(data, "OllamaLLM", "AliLLM") == ["Intent.intent_llm.llm", "Memory.mem_local_short.llm"]
    assert len(changed_lines(RICH, sc.dump(data))) == 4
    assert sc.retarget(data, "OllamaLLM", "AliLLM") == []


def test_an_entry_of_theirs_is_never_written():
    with pytest.raises(Refused, match="not the toolkit's"):
        sc.put_entry(sc.load(RICH), "AliLLM", {"type": "openai"})
    with pytest.raises(Refused):
        sc.remove_entry(sc.load(RICH), "OllamaLLM")


@pytest.mark.parametrize("text", ["# empty but mine\n", ""])
def test_a_file_without_sections_gets_them(text):
    data = sc.load(text)
    sc.select_llm(data, "MigrateRouterLLM")
    sc.put_entry(data, "MigrateRouterLLM", {"type": "openai"})
    assert sc.dump(data).startswith(text) and sc.selected_llm(sc.load(sc.dump(data))) == "MigrateRouterLLM"


@pytest.mark.parametrize("text, error, words", [
    ("manager-api:\n  url: http://xiaozhi-esp32-server-web:8002/xiaozhi\n  secret: s\n", Refused,
     "the full deployment is another target"),
    ("server: [\n", ConfigError, "cannot read this file as YAML"),
    ("- a\n- b\n", ConfigError, "not a mapping"),
])
def test_what_cannot_be_migrated_is_refused(text, error, words):
    with pytest.raises(error, match=words):
        sc.load(text)


def test_the_servers_merge_lets_the_user_win_key_by_key():
    defaults = {"selected_module": {"LLM": "ChatGLMLLM", "TTS": "EdgeTTS"}, "LLM": {"ChatGLMLLM": {"type": "openai"}},
                "plugins": [1, 2]}
    user = sc.load("selected_module:\n  LLM: OllamaLLM\nplugins: [3]\n")
    run = sc.merged(defaults, user)
    assert run["selected_module"] == {"LLM": "OllamaLLM", "TTS": "EdgeTTS"} and run["plugins"] == [3]
    assert run["LLM"] == {"ChatGLMLLM": {"type": "openai"}}
