"""The sandbox's front (what calls llm-service by name): passes every request on, and says why
when it cannot (the benchmarks count these as the client meeting llm-service itself)."""
import socket

import httpx
import pytest

from sandbox import front, llm_service
from sandbox.common import start_in_thread


@pytest.fixture
def upstream():
    server = llm_service.LLMServer(("127.0.0.1", 0), {"local": 1}, 4,
                                   {"local": {"url": "http://127.0.0.1:9", "model": "m", "timeout": 1}})
    start_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


def started(upstream_url: str):
    server = front.FrontServer(("127.0.0.1", 0), upstream_url, timeout=5)
    start_in_thread(server)
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_requests_pass_through_with_status_and_body(upstream):
    server, url = started(f"http://127.0.0.1:{upstream.server_address[1]}")
    try:
        assert httpx.get(url + "/health").json()["service"] == "llm-service"
        bad = httpx.post(url + "/chat", content=b"not json")
        assert bad.status_code == 400 and "X-Sandbox-Front" not in bad.headers
        failed = httpx.post(url + "/chat", json={"prompt": "hi"})   # the provider behind it is down: its 502
        assert failed.status_code == 502 and failed.json()["provider"] == "local"
        assert "X-Sandbox-Front" not in failed.headers
        assert httpx.get(url + "/_front/health").json()["service"] == "front"
    finally:
        server.shutdown()
        server.server_close()


def test_no_upstream_listening_is_a_502_that_says_refused():
    with socket.socket() as s:   # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server, url = started(f"http://127.0.0.1:{port}")
    try:
        r = httpx.post(url + "/chat", json={"prompt": "hi"})
        assert r.status_code == 502 and r.headers["X-Sandbox-Front"] == "refused"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("upstream", ["llm-service:8000", "https://llm-service", "http://"])
def test_an_upstream_that_is_not_an_http_url_is_refused(upstream):
    with pytest.raises(ValueError, match="not an http://host:port URL"):
        front.FrontServer(("127.0.0.1", 0), upstream)
