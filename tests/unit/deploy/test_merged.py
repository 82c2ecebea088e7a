"""The merged model as the plan shows it: every secret-looking value masked on both sides (the
deployed side may hold a key this run does not know), saying when it differs; the key redacted
wherever else it appears."""
from deploy import merged


def model(**env):
    return {"services": {"llm-service": {"environment": env, "image": "x"}}}


def test_secret_values_are_masked_and_a_change_is_said():
    before = model(QWEN_API_KEY="sk-old-111111", DB_PASSWORD="hunter2", LLM_PROVIDER_WEIGHTS="qwen:25,local:30")
    after = model(QWEN_API_KEY="sk-new-222222", DB_PASSWORD="hunter2", LLM_PROVIDER_WEIGHTS="qwen:70,local:30")
    old, new = merged._masked(before, after, key="sk-new-222222")
    for text in (old, new):
        assert "sk-old" not in text and "sk-new" not in text and "hunter2" not in text
    assert "QWEN_API_KEY: '<redacted: differs>'" in new and "DB_PASSWORD: <redacted>" in new
    assert "qwen:70,local:30" in new and "qwen:25,local:30" in old


def test_the_key_is_redacted_even_under_an_innocent_name():
    _, new = merged._masked(model(), model(NOTE="sk-real-0123456789"), key="sk-real-0123456789")
    assert "sk-real" not in new


def test_the_diff_is_per_service_and_a_service_leaving_is_one_line():
    before = {"services": {"vad": {"environment": {"VAD_MAX_CONCURRENT": "24"}, "image": "x"},
                           "local-llm": {"image": "ollama", "ports": ["11434"]}}, "volumes": {"ollama": {}}}
    after = {"services": {"vad": {"environment": {"VAD_MAX_CONCURRENT": "32"}, "image": "x"}}}
    text = merged.diff(before, after, key="")
    assert "--- services.vad (deployed)" in text and "+  VAD_MAX_CONCURRENT: '32'" in text
    assert "services.local-llm: leaves the merged model" in text and "11434" not in text
    assert "the rest of the model" in text and "-  ollama: {}" in text
    assert merged.diff(before, before, key="") == ""
