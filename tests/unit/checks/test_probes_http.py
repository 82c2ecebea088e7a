"""The probes' HTTP against canned answers from a loopback server: framing, streaming, broken
answers, hangs, refusals, TLS, the engine's Unix socket and a DNS server that never answers
(the scenarios of the hand-written client these probes used before they moved to httpx)."""
import asyncio
import socket
import ssl
import subprocess
import time

import httpx
import pytest

from adapters import http
from adapters.dockerd import Engine
from checks import probes

HANG = object()  # the server keeps the connection open and says nothing more
KEY = "sk-test-123456"


async def _serve(chunks, seen: list, *, tls: ssl.SSLContext | None = None, uds: str | None = None):
    async def handle(reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
        body = await reader.readexactly(length[0]) if length else b""
        seen.append((head.decode(), body))
        for chunk in chunks:
            if chunk is HANG:
                await asyncio.sleep(30)
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.01)  # separate TCP segments: the client must reassemble
        writer.close()
    if uds:
        return await asyncio.start_unix_server(handle, uds)
    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)


def api_against(chunks, *, scheme="http", tls=None, host="127.0.0.1", key=KEY, generate=False, timeout=2.0,
                ca_file=None):
    """(the api probe's facts, what the server received)."""
    seen: list = []

    async def go():
        server = await _serve(chunks, seen, tls=tls)
        port = server.sockets[0].getsockname()[1]
        try:
            return await probes.api(f"{scheme}://{host}:{port}/v1", "qwen-plus", key, timeout, generate, ca_file)
        finally:
            server.close()
    return http.run(go()), seen


@pytest.mark.parametrize("chunks, auth, status", [
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"], "ok", 200),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\n{\r\n", b"1\r\n}\r\n0\r\n\r\n"], "ok", 200),
    ([b"HTTP/1.1 200 OK\r\n\r\n", b"{", b"}"], "ok", 200),  # no length: read to EOF
    ([b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\n{}"], "bad_key", 401),
    ([b"HTTP/1.0 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"], "server_error", 503),
    ([b"HTTP/1.1 429 Too Many\r\nContent-Length: 2\r\n\r\n{}"], "throttled", 429),
])
def test_framing(chunks, auth, status):
    facts, _ = api_against(chunks)
    assert (facts.auth, facts.status) == (auth, status)


@pytest.mark.parametrize("chunks, kind", [
    ([b"HTTP/1.1 abc\r\n\r\n"], "protocol"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], "protocol"),  # closed mid-body
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], "protocol"),
    ([], "protocol"),  # closed before a word
    ([HANG], "timeout"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", HANG], "timeout"),
])
def test_broken_answers(chunks, kind):
    facts, _ = api_against(chunks, timeout=0.3)
    assert facts.auth == kind, facts


def test_the_request_as_the_server_sees_it_and_the_key_never_in_the_facts():
    facts, seen = api_against([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"])
    lines = seen[0][0].split("\r\n")
    assert lines[0] == "GET /v1/models HTTP/1.1"
    assert f"authorization: bearer {KEY}".lower() in [line.lower() for line in lines]
    assert any(line.lower().startswith("host: 127.0.0.1:") for line in lines)
    assert KEY not in repr(facts)


def test_a_streamed_first_token_whose_utf8_straddles_two_chunks():
    text = "data: {\"c\": \"你好\"}\n\ndata: [DONE]\n".encode()
    cut = text.index("你".encode()) + 1
    body = [b"%x\r\n%s\r\n" % (len(p), p) for p in (text[:cut], text[cut:])] + [b"0\r\n\r\n"]
    chunks = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", *body]
    facts, seen = api_against(chunks, generate=True)  # /models and the completion get the same answer
    assert facts.auth == "ok" and facts.generation.first_token_s > 0, facts
    assert facts.generation.connect_s >= 0
    post = [body for head, body in seen if head.startswith("POST /v1/chat/completions")]
    assert post and b'"max_tokens":1' in post[0].replace(b" ", b"")


def test_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port = s.getsockname()[1]
        facts = http.run(probes.api(f"http://127.0.0.1:{port}/v1", "m", KEY, 1.0, False))
        port_facts = http.run(probes.tcp(f"http://127.0.0.1:{port}", 1.0))
    assert facts.auth == "refused" and (port_facts.open, port_facts.error) == (False, "refused")


def test_a_key_that_cannot_be_sent_is_not_quoted_back():
    facts, seen = api_against([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"], key="sk-x\nY")
    assert facts.auth == "error" and "sk-x" not in facts.detail and not seen, facts


def test_the_engine_over_a_unix_socket(tmp_path, monkeypatch):
    sock = str(tmp_path / "engine.sock")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    seen: list = []

    async def go():
        server = await _serve([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"], seen, uds=sock)
        try:
            async with Engine(2.0) as engine:
                return await engine.containers(["com.docker.compose.project=xz"])
        finally:
            server.close()
    assert http.run(go()) == []
    assert seen[0][0].startswith("GET /containers/json?all=1&filters=")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return server, folder / "cert.pem"


def test_tls_an_unknown_certificate_is_a_tls_failure(certificate):
    server, _ = certificate
    facts, _ = api_against([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"], scheme="https", tls=server)
    assert facts.auth == "tls", facts


def test_tls_a_certificate_trusted_through_the_configured_ca_file(certificate):
    server, cert = certificate
    facts, _ = api_against([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"], scheme="https", tls=server,
                           ca_file=str(cert))
    assert facts.auth == "ok", facts


def test_tls_verifies_certificates_and_host_names_against_a_real_bundle():
    context = http.tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 50  # certifi's bundle (or the system's) is loaded
    assert http.tls_context() is context  # built once per process


def test_a_ca_file_that_is_not_pem_is_a_tls_failure_that_names_it(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(http.HTTPError, match="ca.pem"):
        http.tls_context(str(bad))


@pytest.mark.parametrize("exc, kind", [
    (asyncio.TimeoutError(), "timeout"),
    (httpx.ReadTimeout("slow"), "timeout"),
    (socket.gaierror(-2, "Name or service not known"), "dns"),
    (ConnectionRefusedError(111, "refused"), "refused"),
    (ssl.SSLCertVerificationError("certificate verify failed"), "tls"),
    (httpx.RemoteProtocolError("bad"), "protocol"),
    (ConnectionResetError(104, "reset"), "error"),
])
def test_kind_of(exc, kind):
    assert http.kind_of(exc) == kind


def test_kind_of_looks_beneath_httpx_to_the_cause():
    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as cause:
            raise httpx.ConnectError("[Errno -2]") from cause
    except httpx.ConnectError as exc:
        assert http.kind_of(exc) == "dns"


def test_a_hung_dns_lookup_ends_with_the_timeout_says_dns_and_holds_nothing_back(fake_dns):
    """Name lookups run in asyncio's executor, which asyncio.run waits for at its end."""
    fake_dns["stuck.example"] = None
    start = time.perf_counter()
    facts = http.run(probes.api("http://stuck.example:8080/v1", "m", KEY, 0.3, False))
    port = http.run(probes.tcp("http://stuck.example:8080", 0.3))
    assert time.perf_counter() - start < 1.5
    assert facts.auth == "dns" and "stuck.example" in facts.detail, facts
    assert port.error == "dns"


def test_each_address_of_a_name_is_tried_in_turn(fake_dns):
    fake_dns["two.example"] = ["127.0.0.2", "127.0.0.1"]  # the server listens on the second only
    facts, _ = api_against([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"], host="two.example")
    assert facts.auth == "ok", facts


def test_the_name_is_looked_up_alongside_once_per_host_and_run(fake_dns):
    fake_dns["one.example"] = ["127.0.0.1"]

    async def go():
        first, again, other = http._lookup("one.example"), http._lookup("one.example"), http._lookup("127.0.0.1")
        return first is again, other, await first
    same, other, answer = http.run(go())
    assert same and other is None and answer[0][4][0] == "127.0.0.1"
