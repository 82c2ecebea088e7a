"""The official `ollama` client judges the emulator's wire compatibility."""
import json
import time

import httpx
import ollama
import pytest

from sandbox.store import Store, blob_path


@pytest.fixture
def client(ollama_server):
    return ollama.Client(host=ollama_server.url)


def test_root_and_version(ollama_server):
    assert httpx.get(ollama_server.url + "/").text == "Ollama is running"
    assert httpx.head(ollama_server.url + "/").status_code == 200
    assert httpx.get(ollama_server.url + "/api/version").json()["version"].count(".") == 2


def test_list_and_show(client):
    models = {m.model: m for m in client.list().models}
    assert set(models) == {"qwen2:7b", "qwen2:1.5b"}
    assert models["qwen2:7b"].size > models["qwen2:1.5b"].size
    assert models["qwen2:7b"].details.family == "qwen2"
    shown = client.show("qwen2:7b")
    assert shown.details.parameter_size == "7.6B"
    assert "<|im_start|>" in shown.template


def test_generate_streamed_ends_with_done_and_durations(client, ollama_server):
    ollama_server.knobs.reply_tokens = 5
    chunks = list(client.generate(model="qwen2:7b", prompt="你好", stream=True))
    assert [c.done for c in chunks] == [False] * 5 + [True]
    last = chunks[-1]
    assert last.done_reason == "stop" and last.eval_count == 5
    assert last.total_duration >= last.eval_duration > 0  # nanoseconds
    assert "".join(c.response for c in chunks[:-1])


def test_generate_not_streamed_and_num_predict(client):
    reply = client.generate(model="qwen2:7b", prompt="hi", stream=False, options={"num_predict": 1})
    assert reply.done and reply.eval_count == 1 and reply.done_reason == "length"


def test_chat_streamed_and_not(client):
    messages = [{"role": "user", "content": "hi"}]
    whole = client.chat(model="qwen2:7b", messages=messages)
    parts = list(client.chat(model="qwen2:7b", messages=messages, stream=True))
    assert whole.message.role == "assistant"
    assert "".join(p.message.content for p in parts) == whole.message.content


def test_ps_shows_loaded_model_and_keep_alive_zero_unloads(client):
    client.generate(model="qwen2:7b", prompt="hi")
    assert [m.model for m in client.ps().models] == ["qwen2:7b"]
    client.generate(model="qwen2:7b", prompt="", keep_alive=0)
    assert client.ps().models == []


def test_delete_prunes_only_unshared_blobs(client, store_dir):
    store = Store(store_dir)
    small = set(store.digests(store.load(store.find("qwen2:1.5b"))))
    big = set(store.digests(store.load(store.find("qwen2:7b"))))
    assert client.delete("qwen2:7b").status == "success"
    assert [m.model for m in client.list().models] == ["qwen2:1.5b"]
    assert all(blob_path(store_dir, d).exists() for d in small)
    assert not any(blob_path(store_dir, d).exists() for d in big - small)
    with pytest.raises(ollama.ResponseError) as err:
        client.delete("qwen2:7b")
    assert err.value.status_code == 404


@pytest.mark.parametrize("call", [
    lambda c: c.generate(model="llama3:8b", prompt="hi"),
    lambda c: c.chat(model="llama3:8b", messages=[{"role": "user", "content": "x"}]),
    lambda c: c.show("llama3:8b"),
])
def test_unknown_model_is_404(client, call):
    with pytest.raises(ollama.ResponseError) as err:
        call(client)
    assert err.value.status_code == 404 and "not found" in err.value.error


def test_openai_compatible_routes(ollama_server):
    import openai
    c = openai.OpenAI(base_url=ollama_server.url + "/v1", api_key="ollama", max_retries=0)
    assert {m.id for m in c.models.list()} == {"qwen2:7b", "qwen2:1.5b"}
    reply = c.chat.completions.create(model="qwen2:7b", messages=[{"role": "user", "content": "hi"}])
    stream = c.chat.completions.create(model="qwen2:7b", messages=[{"role": "user", "content": "hi"}],
                                       stream=True)
    assert "".join(ch.choices[0].delta.content or "" for ch in stream) == reply.choices[0].message.content


@pytest.mark.parametrize("method, path, body, status, shape", [
    ("POST", "/api/generate", b"{bad json", 400, "error"),
    ("POST", "/api/chat", b"[1, 2]", 400, "error"),
    ("POST", "/api/show", b"{}", 400, "error"),
    ("POST", "/v1/chat/completions", b"{bad", 400, "openai"),
    ("GET", "/api/nothing", b"", 404, None),
    ("POST", "/api/tags", b"{}", 404, None),
])
def test_bad_input(ollama_server, method, path, body, status, shape):
    r = httpx.request(method, ollama_server.url + path, content=body)
    assert r.status_code == status
    if shape == "error":
        assert isinstance(r.json()["error"], str)
    elif shape == "openai":
        assert r.json()["error"]["type"] == "invalid_request_error"


def test_error_rate_gives_error_line_mid_stream_with_200(ollama_server):
    ollama_server.knobs.error_rate = 1.0
    with httpx.stream("POST", ollama_server.url + "/api/generate",
                      json={"model": "qwen2:7b", "prompt": "hi"}) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert r.status_code == 200 and "error" in lines[-1]


def test_overload_answers_503(ollama_server):
    ollama_server.max_queue = 0
    r = httpx.post(ollama_server.url + "/api/generate", json={"model": "qwen2:7b", "prompt": "hi"})
    assert r.status_code == 503 and "busy" in r.json()["error"]


def test_first_token_delay_is_measured_within_10_percent(ollama_server):
    ollama_server.knobs.first_token_delay = 0.3
    ollama_server.knobs.token_rate = 50
    http = httpx.Client()  # made before the clock starts: building its TLS context takes ~40 ms
    start = time.perf_counter()
    with http.stream("POST", ollama_server.url + "/api/generate",
                     json={"model": "qwen2:7b", "prompt": "hi"}) as r:
        first = next(r.iter_lines())
        elapsed = time.perf_counter() - start
    assert json.loads(first)["done"] is False
    assert abs(elapsed - 0.3) <= 0.03, elapsed


def test_hang_accepts_but_never_answers(ollama_server):
    ollama_server.knobs.hang = True
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(ollama_server.url + "/api/version", timeout=0.5)


def test_knobs_admin_route_validates(ollama_server):
    r = httpx.post(ollama_server.url + "/_sandbox/knobs", json={"error_rate": 2})
    assert r.status_code == 400
    r = httpx.post(ollama_server.url + "/_sandbox/knobs", json={"nope": 1})
    assert r.status_code == 400 and "unknown knob" in r.json()["error"]
    r = httpx.post(ollama_server.url + "/_sandbox/knobs", json={"first_token_delay": 0.01})
    assert r.json()["first_token_delay"] == 0.01
