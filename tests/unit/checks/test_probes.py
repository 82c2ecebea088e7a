"""Probe classification, built from the exceptions httpx really raises (no network needed)."""
import asyncio
import socket

import httpx
import pytest

from checks import probes


def chained(outer: Exception, inner: BaseException) -> Exception:
    outer.__context__ = inner
    return outer


@pytest.mark.parametrize("exc, kind", [
    (httpx.ConnectTimeout("t"), "timeout"),
    (httpx.ReadTimeout("t"), "timeout"),
    (asyncio.TimeoutError(), "timeout"),
    (chained(httpx.ConnectError("x"), socket.gaierror(-2, "Name or service not known")), "dns"),
    (httpx.ConnectError("[Errno -3] Temporary failure in name resolution"), "dns"),
    (chained(httpx.ConnectError("x"), ConnectionRefusedError(111, "refused")), "refused"),
    (httpx.ConnectError("All connection attempts failed"), "refused"),
    (httpx.RemoteProtocolError("bad"), "error"),
])
def test_classify(exc, kind):
    assert probes.classify(exc) == kind


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:11434", ("127.0.0.1", 11434)), ("https://dashscope.aliyuncs.com/compatible-mode/v1",
                                                         ("dashscope.aliyuncs.com", 443)),
    ("http://xiaozhi-local-llm", ("xiaozhi-local-llm", 80)),
])
def test_host_port(url, expected):
    assert probes.host_port(url) == expected


def test_refused_port_on_loopback():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        facts = asyncio.run(probes.tcp(f"http://127.0.0.1:{port}", 1.0))
    assert facts["open"] is False and facts["error"] == "refused"


def test_api_without_key_sends_nothing():
    facts = asyncio.run(probes.api("http://127.0.0.1:9", "qwen-plus", "", 1.0))
    assert facts["auth"] == "no_key"


def test_container_facts_keep_only_the_drift_variables():
    from checks import stack
    attrs = {"Name": "/xz-llm-service-1",
             "Config": {"Env": ["QWEN_API_KEY=sk-secret", "LLM_PROVIDER_WEIGHTS=qwen:70,local:30",
                                "LLM_MAX_CONCURRENT=20", "VAD_MAX_CONCURRENT=24", "PATH=/bin"]},
             "State": {"Status": "running", "Health": {"Status": "healthy"}, "StartedAt": "t", "Pid": 42}}
    assert stack.drift_env(attrs, "llm-service") == {"LLM_PROVIDER_WEIGHTS": "qwen:70,local:30",
                                                     "LLM_MAX_CONCURRENT": "20"}
    assert stack.drift_env(attrs, "local-llm") == {}
    assert stack.describe(attrs) == {"container": "xz-llm-service-1", "state": "running", "health": "healthy",
                                     "started_at": "t", "pid": 42}
