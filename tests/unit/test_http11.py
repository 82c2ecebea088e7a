"""adapters.http11 against canned answers from a loopback server: framing, streaming, errors."""
import asyncio
import socket
import ssl
import subprocess
import time

import h11
import pytest

from adapters import http11

HANG = object()  # the server keeps the connection open and says nothing more


async def _serve(chunks, handler_seen: list, *, tls: ssl.SSLContext | None = None, uds: str | None = None):
    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
        body = await reader.readexactly(length[0]) if length else b""
        handler_seen.append((head.decode(), body))
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


def run(chunks, method="GET", path="/x?y=1", scheme="http", tls=None, uds=None, host="127.0.0.1", **options):
    """(response or HTTPError, what the server received)."""
    seen: list = []

    async def go():
        server = await _serve(chunks, seen, tls=tls, uds=uds)
        port = 0 if uds else server.sockets[0].getsockname()[1]
        try:
            return await http11.request(method, f"{scheme}://{host}:{port}{path}", uds=uds, **options)
        except http11.HTTPError as exc:
            return exc
        finally:
            server.close()
    return asyncio.run(go()), seen


@pytest.mark.parametrize("chunks, status, body", [
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"], 200, b"hello"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"3\r\nabc\r\n", b"2\r\nde\r\n0\r\n\r\n"], 200, b"abcde"),
    ([b"HTTP/1.1 200 OK\r\n\r\n", b"until ", b"close"], 200, b"until close"),  # no length: read to EOF
    ([b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno"], 404, b"no"),
    ([b"HTTP/1.1 204 No Content\r\n\r\n"], 204, b""),
    ([b"HTTP/1.0 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"], 503, b"busy"),
])
def test_framing(chunks, status, body):
    response, _ = run(chunks)
    assert (response.status_code, response.content) == (status, body)


@pytest.mark.parametrize("chunks, kind", [
    ([b"HTTP/1.1 abc\r\n\r\n"], "protocol"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], "protocol"),  # closed mid-body
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], "protocol"),
    ([], "protocol"),  # closed before a word
    ([HANG], "timeout"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", HANG], "timeout"),
])
def test_broken_answers(chunks, kind):
    error, _ = run(chunks, timeout=0.3)
    assert isinstance(error, http11.HTTPError) and error.kind == kind, error


def test_request_as_the_server_sees_it():
    response, seen = run([b"HTTP/1.1 200 OK\r\nX-Thing: On\r\nContent-Length: 2\r\n\r\n{}"], method="POST",
                         json={"model": "m", "n": 1}, headers={"Authorization": "Bearer k"})
    head, body = seen[0]
    lines = head.split("\r\n")
    assert lines[0] == "POST /x?y=1 HTTP/1.1"
    assert {"Connection: close", "Content-Type: application/json", "Authorization: Bearer k",
            f"Content-Length: {len(body)}"} <= set(lines)
    assert [line for line in lines if line.startswith("Host: 127.0.0.1:")]
    assert body == b'{"model": "m", "n": 1}'
    assert response.headers["x-thing"] == "On" and response.json() == {}
    assert response.connect_seconds >= 0


def test_lines_arrive_as_they_are_sent_and_utf8_may_straddle_chunks():
    text = "data: 你好\n\ndata: [DONE]\n".encode()
    cut = text.index("你".encode()) + 1
    parts = [text[:cut], text[cut:]]
    chunks = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
    chunks += [b"%x\r\n%s\r\n" % (len(p), p) for p in parts] + [b"0\r\n\r\n"]

    async def go():
        seen: list = []
        server = await _serve(chunks, seen)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        try:
            async with http11.stream("GET", url, timeout=2) as response:
                return [line async for line in response.iter_lines()]
        finally:
            server.close()
    assert asyncio.run(go()) == ["data: 你好", "", "data: [DONE]"]


def test_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port = s.getsockname()[1]
        with pytest.raises(http11.HTTPError) as caught:
            asyncio.run(http11.request("GET", f"http://127.0.0.1:{port}/", timeout=1))
    assert caught.value.kind == "refused"


@pytest.mark.parametrize("url", ["ftp://host/x", "http:///nohost", "http://host:99999/", "not a url"])
def test_bad_url_is_refused_before_any_connection(url):
    with pytest.raises(http11.HTTPError, match="not an http"):
        asyncio.run(http11.request("GET", url))


def test_a_header_that_cannot_be_sent_is_not_quoted_back():
    with pytest.raises(http11.HTTPError) as caught:
        asyncio.run(http11.request("GET", "http://127.0.0.1:9/", headers={"Authorization": "Bearer sk-x\nY"}))
    assert caught.value.kind == "error" and "sk-x" not in str(caught.value)


def test_unix_socket(tmp_path):
    response, seen = run([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"], scheme="http",
                         uds=str(tmp_path / "engine.sock"), path="/containers/json")
    assert response.json() == [] and seen[0][0].startswith("GET /containers/json HTTP/1.1")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return server, folder / "cert.pem"


def test_tls_unknown_certificate_is_a_tls_error(certificate):
    server, _ = certificate
    error, _ = run([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], scheme="https", tls=server, timeout=2)
    assert isinstance(error, http11.HTTPError) and error.kind == "tls", error


def test_tls_trusted_certificate(certificate, monkeypatch):
    server, cert = certificate
    monkeypatch.setattr(http11, "_tls_context", ssl.create_default_context(cafile=str(cert)))
    response, _ = run([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], scheme="https", tls=server, timeout=2)
    assert response.content == b"ok"


@pytest.mark.parametrize("exc, kind", [
    (asyncio.TimeoutError(), "timeout"),
    (TimeoutError(), "timeout"),
    (socket.gaierror(-2, "Name or service not known"), "dns"),
    (ConnectionRefusedError(111, "refused"), "refused"),
    (ssl.SSLCertVerificationError("certificate verify failed"), "tls"),
    (h11.RemoteProtocolError("bad"), "protocol"),
    (asyncio.IncompleteReadError(b"", 3), "protocol"),
    (ConnectionResetError(104, "reset"), "error"),
])
def test_kind_of(exc, kind):
    assert http11.kind_of(exc) == kind


def test_a_hung_dns_lookup_ends_with_the_timeout_and_holds_nothing_back(fake_dns):
    """asyncio's own lookup runs in its executor, which asyncio.run waits for at the end."""
    fake_dns["stuck.example"] = None
    start = time.perf_counter()
    with pytest.raises(http11.HTTPError) as caught:
        asyncio.run(http11.request("GET", "http://stuck.example:8080/", timeout=0.3))
    assert time.perf_counter() - start < 1.5
    assert caught.value.kind == "dns" and "stuck.example" in str(caught.value)


def test_each_address_of_a_name_is_tried_in_turn(fake_dns):
    fake_dns["two.example"] = ["127.0.0.2", "127.0.0.1"]  # the server listens on the second only
    response, _ = run([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], path="/", host="two.example")
    assert response.content == b"ok"


def test_tls_verifies_certificates_and_host_names_against_a_real_bundle(monkeypatch):
    monkeypatch.setattr(http11, "_tls_context", None)
    context = http11._tls()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 50  # certifi's bundle (or the system's) is loaded
    assert http11._tls() is context  # built once per process
