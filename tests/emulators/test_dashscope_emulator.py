"""The official `openai` package and `dashscope` SDK judge the DashScope emulator."""
import time

import dashscope
import httpx
import openai
import pytest

from sandbox.dashscope import DashScopeServer
from sandbox.common import Knobs, start_in_thread

from .conftest import KEY

MESSAGES = [{"role": "user", "content": "你好"}]


@pytest.fixture
def compat(dashscope_server):
    return openai.OpenAI(base_url=dashscope_server.url + "/compatible-mode/v1", api_key=KEY, max_retries=0)


def test_models(compat):
    assert {"qwen-plus", "qwen-turbo", "qwen-max", "qwen-flash"} <= {m.id for m in compat.models.list()}


def test_chat_not_streamed(compat):
    reply = compat.chat.completions.create(model="qwen-plus", messages=MESSAGES)
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens == 12 and reply.choices[0].message.content


def test_chat_streamed_with_usage(compat):
    chunks = list(compat.chat.completions.create(model="qwen-plus", messages=MESSAGES, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 24
    assert chunks[-2].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == compat.chat.completions.create(model="qwen-plus", messages=MESSAGES).choices[0].message.content


def test_stream_ends_with_done_line(dashscope_server):
    with httpx.stream("POST", dashscope_server.url + "/compatible-mode/v1/chat/completions",
                      headers={"Authorization": f"Bearer {KEY}"},
                      json={"model": "qwen-plus", "messages": MESSAGES, "stream": True}) as r:
        lines = [line for line in r.iter_lines() if line]
    assert r.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"


def test_wrong_key_is_the_official_clients_authentication_error(dashscope_server):
    bad = openai.OpenAI(base_url=dashscope_server.url + "/compatible-mode/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad.chat.completions.create(model="qwen-plus", messages=MESSAGES)
    assert err.value.status_code == 401


def test_missing_key_is_401_invalid_api_key(dashscope_server):
    r = httpx.get(dashscope_server.url + "/compatible-mode/v1/models")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_unknown_model(compat):
    with pytest.raises(openai.BadRequestError):
        compat.chat.completions.create(model="gpt-4", messages=MESSAGES)


@pytest.fixture
def native(dashscope_server, monkeypatch):
    monkeypatch.setattr(dashscope, "base_http_api_url", dashscope_server.url + "/api/v1")
    return dashscope_server


def test_native_call_with_sdk(native):
    r = dashscope.Generation.call(api_key=KEY, model="qwen-plus", messages=MESSAGES, result_format="message")
    assert r.status_code == 200 and r.output.choices[0].finish_reason == "stop"
    assert r.usage.output_tokens == 12 and r.request_id


def test_native_stream_incremental_with_sdk(native):
    frames = list(dashscope.Generation.call(api_key=KEY, model="qwen-plus", messages=MESSAGES,
                                            result_format="message", stream=True, incremental_output=True))
    assert all(f.status_code == 200 for f in frames)
    assert frames[-1].output.choices[0].finish_reason == "stop"
    assert frames[0].output.choices[0].finish_reason == "null"
    text = "".join(f.output.choices[0].message.content for f in frames)
    whole = dashscope.Generation.call(api_key=KEY, model="qwen-plus", messages=MESSAGES, result_format="message")
    assert text == whole.output.choices[0].message.content


def test_native_sse_framing(native):
    with httpx.stream("POST", native.url + "/api/v1/services/aigc/text-generation/generation",
                      headers={"Authorization": f"Bearer {KEY}", "X-DashScope-SSE": "enable"},
                      json={"model": "qwen-plus", "input": {"messages": MESSAGES},
                            "parameters": {"result_format": "message", "incremental_output": True}}) as r:
        lines = [line for line in r.iter_lines() if line]
    assert lines[:3] == ["id:1", "event:result", ":HTTP_STATUS/200"] and lines[3].startswith("data:{")


def test_native_bad_key_sdk(native):
    r = dashscope.Generation.call(api_key="sk-wrong", model="qwen-plus", messages=MESSAGES, result_format="message")
    assert r.status_code == 401 and r.code == "InvalidApiKey"


@pytest.mark.parametrize("path, shape", [
    ("/compatible-mode/v1/chat/completions", "compat"),
    ("/api/v1/services/aigc/text-generation/generation", "native"),
])
def test_malformed_json_is_400_in_own_shape(dashscope_server, path, shape):
    r = httpx.post(dashscope_server.url + path, content=b"{oops",
                   headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 400
    if shape == "native":
        assert r.json()["code"] == "InvalidParameter" and r.json()["request_id"]
    else:
        assert r.json()["error"]["code"] == "invalid_parameter_error"


def test_unknown_route_is_404(dashscope_server):
    assert httpx.get(dashscope_server.url + "/v2/nothing").status_code == 404


def test_rate_limit_429_throttling():
    server = DashScopeServer(("127.0.0.1", 0), Knobs(), KEY, rpm=3)
    start_in_thread(server)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/services/aigc/text-generation/generation"
        body = {"model": "qwen-turbo", "input": {"messages": MESSAGES}}
        codes = [httpx.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}) for _ in range(4)]
        assert [c.status_code for c in codes] == [200, 200, 200, 429]
        assert codes[-1].json()["code"] == "Throttling.RateQuota"
        compat = openai.OpenAI(base_url=f"http://127.0.0.1:{server.server_address[1]}/compatible-mode/v1",
                               api_key=KEY, max_retries=0)
        with pytest.raises(openai.RateLimitError):
            compat.models.list()
    finally:
        server.shutdown()
        server.server_close()


def test_error_rate_gives_500(compat, dashscope_server):
    dashscope_server.knobs.error_rate = 1.0
    with pytest.raises(openai.InternalServerError):
        compat.chat.completions.create(model="qwen-plus", messages=MESSAGES)


def test_first_token_delay_within_10_percent(compat, dashscope_server):
    compat.models.list()  # warm the client: its first request pays for lazy set-up
    dashscope_server.knobs.first_token_delay = 0.4
    start = time.perf_counter()
    stream = compat.chat.completions.create(model="qwen-plus", messages=MESSAGES, stream=True)
    next(iter(stream))
    elapsed = time.perf_counter() - start
    assert abs(elapsed - 0.4) <= 0.04, elapsed
