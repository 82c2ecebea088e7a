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


def name_of(monkeypatch, *ports: int, answer: tuple = ()) -> str:
    """The upstream URL of a name that Docker's DNS answers with ``answer`` (getaddrinfo's
    tuples), then these loopback ports, in order."""
    answer = [*answer, *((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)) for port in ports)]
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda host, *a, **k: answer if host == "llm-service" else real(host, *a, **k))
    return "http://llm-service:8000"


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


def test_an_address_that_refuses_is_passed_over_for_the_next(upstream, monkeypatch):
    """Two llm-service containers in Docker's answer, the first one no longer listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    live = upstream.server_address[1]
    server, url = started(name_of(monkeypatch, dead, live))
    try:
        r = httpx.get(url + "/health", trust_env=False)
        assert r.status_code == 200 and r.json()["service"] == "llm-service" and "X-Sandbox-Front-Retried" not in r.headers
    finally:
        server.shutdown()
        server.server_close()


def test_a_connection_reset_before_any_answer_is_tried_once_more_and_said(upstream):
    """The old server closed its listener with this connection still queued: reset, never read."""
    import struct
    import threading
    resetting = socket.socket()
    resetting.bind(("127.0.0.1", 0))
    resetting.listen(8)
    port, live = resetting.getsockname()[1], upstream.server_address[1]

    def one_reset_then_relay():
        conn, _ = resetting.accept()          # the first connection: reset once its request came
        conn.recv(1)                          # (a reset before that may end the connect itself)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        conn, _ = resetting.accept()          # the second: passed on to the live upstream
        request = b""
        while b"\r\n\r\n" not in request:     # a GET: its head, however many reads it takes
            request += conn.recv(65536) or b"\r\n\r\n"
        with socket.create_connection(("127.0.0.1", live)) as up:
            up.sendall(request)
            up.shutdown(socket.SHUT_WR)
            while chunk := up.recv(65536):
                conn.sendall(chunk)
        conn.close()
    relay = threading.Thread(target=one_reset_then_relay, daemon=True)
    relay.start()
    server, url = started(f"http://127.0.0.1:{port}")
    try:
        r = httpx.get(url + "/health", trust_env=False)
        assert r.status_code == 200 and r.headers.get("X-Sandbox-Front-Retried") == "closed", (r.status_code, dict(r.headers), r.text[:200])
        relay.join(5)
    finally:
        server.shutdown()
        server.server_close()
        resetting.close()


@pytest.mark.parametrize("reset_when", ["request came", "at once"])
def test_after_a_reset_the_other_address_is_tried_first(upstream, monkeypatch, reset_when):
    """Both llm-service containers in Docker's answer, the first one draining: every connection
    it still takes is reset. The try after a reset goes to the other one, not back to it. A reset
    at once may come while the connection is being made: that is a connection not taken."""
    import struct
    import threading
    resetting = socket.socket()
    resetting.bind(("127.0.0.1", 0))
    resetting.listen(8)
    draining, live = resetting.getsockname()[1], upstream.server_address[1]
    taken = []

    def reset_every_connection():
        while True:
            try:
                conn, _ = resetting.accept()
            except OSError:
                return
            taken.append(1)
            if reset_when == "request came":
                conn.recv(1)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
    threading.Thread(target=reset_every_connection, daemon=True).start()
    server, url = started(name_of(monkeypatch, draining, live))
    try:
        r = httpx.get(url + "/health", trust_env=False)
        assert r.status_code == 200 and r.json()["service"] == "llm-service", (r.status_code, r.text[:200])
        assert len(taken) == 1, taken          # the draining one, never back to it
        if reset_when == "request came":       # (at once, the reset may end the connect: not a retry)
            assert r.headers.get("X-Sandbox-Front-Retried") == "closed", dict(r.headers)
    finally:
        server.shutdown()
        server.server_close()
        resetting.shutdown(socket.SHUT_RDWR)   # wakes the thread in accept()
        resetting.close()


def test_an_address_no_socket_can_be_made_for_is_passed_over(upstream, monkeypatch):
    """An answer the host cannot open a socket for (an AAAA record without IPv6, say: here a
    family and protocol that do not go together) is an address not taken, never a dropped chat."""
    odd = ((socket.AF_UNIX, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 1)),)
    server, url = started(name_of(monkeypatch, upstream.server_address[1], answer=odd))
    try:
        r = httpx.get(url + "/health", trust_env=False)
        assert r.status_code == 200 and r.json()["service"] == "llm-service", (r.status_code, r.text[:200])
    finally:
        server.shutdown()
        server.server_close()
