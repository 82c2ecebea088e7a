"""Probe classification and the facts probes keep (no network beyond loopback)."""
import asyncio
import socket

import pytest

from checks import probes
from toolkit.http11 import HTTPError


@pytest.mark.parametrize("exc, kind", [
    (HTTPError("dns", "connecting to x: [Errno -2] Name or service not known"), "dns"),
    (HTTPError("tls", "connecting to x: certificate verify failed"), "tls"),
    (asyncio.TimeoutError(), "timeout"),
    (ConnectionRefusedError(111, "refused"), "refused"),
    (socket.gaierror(-3, "Temporary failure in name resolution"), "dns"),
    (ValueError("Expecting value"), "error"),  # an answer that is not JSON
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
