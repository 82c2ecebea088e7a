"""A thin HTTP/1.1 client for the health probes and the engine reader: h11 parses, asyncio
streams carry the bytes, one request per connection.

Why not httpx, which the rest of the toolkit uses: importing httpx and httpcore, and their first
request, cost ~100 ms, most of what `invoke health` spends besides waiting on the network; cron
runs it every few minutes and it must finish well ahead of a bash + curl script doing the same
probes. As with the httpx clients it replaces: no proxy from the environment, no redirect
followed, TLS verified against certifi's bundle (the system's when certifi is missing)."""
from __future__ import annotations

import asyncio
import ipaddress
import json as jsonlib
import socket
import ssl
import time
from contextlib import asynccontextmanager, contextmanager
from typing import AsyncIterator, Mapping
from urllib.parse import urlsplit

import h11

from core.errors import MigrationError
from adapters.threads import in_daemon_thread

USER_AGENT = "xiaozhi-migrate"
_tls_context: ssl.SSLContext | None = None


class HTTPError(MigrationError):
    """No complete answer. ``kind`` is the operator's word for why: refused, timeout, dns, tls,
    protocol (the peer does not speak HTTP/1.1 properly) or error; the message says more.
    Probes turn it into facts; it reaches the operator only through them."""

    def __init__(self, kind: str, what: str):
        super().__init__(what)
        self.kind = kind


def kind_of(exc: BaseException) -> str:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ssl.SSLError):  # certificate errors included
        return "tls"
    if isinstance(exc, (h11.RemoteProtocolError, asyncio.IncompleteReadError)):
        return "protocol"
    return "error"


@contextmanager
def _mapped(doing: str):
    try:
        yield
    except h11.LocalProtocolError:
        # Its message quotes the offending header, which may be the Authorization header.
        raise HTTPError("error", f"{doing}: the request could not be formed (an illegal character "
                                 "in a header value?)") from None
    except (OSError, asyncio.TimeoutError, h11.RemoteProtocolError, asyncio.IncompleteReadError) as exc:
        kind = kind_of(exc)
        raise HTTPError(kind, f"{doing}: {exc or type(exc).__name__}" if kind != "timeout"
                        else f"{doing}: no answer in time") from None


def _tls() -> ssl.SSLContext:
    """Built on first use only: loading a CA bundle costs ~40 ms, and plain http needs none."""
    global _tls_context
    if _tls_context is None:
        try:
            import certifi
            cafile = certifi.where()
        except ImportError:
            cafile = None
        context = ssl.create_default_context(cafile=cafile)
        context.set_alpn_protocols(["http/1.1"])
        _tls_context = context
    return _tls_context


async def open_tcp(host: str, port: int, timeout: float, tls: ssl.SSLContext | None = None):
    """(reader, writer) to host:port, each address tried in turn within ``timeout`` overall.
    Names are looked up in a daemon thread: see adapters/threads.py for why."""
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            found = await asyncio.wait_for(in_daemon_thread(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM),
                                           timeout)
        except asyncio.TimeoutError:
            raise socket.gaierror(f"resolving {host}: no answer in {timeout:g} s") from None
        addresses = list(dict.fromkeys(info[4][0] for info in found))
    error: BaseException = socket.gaierror(f"{host} has no address")
    for address in addresses:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise asyncio.TimeoutError()
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(address, port, ssl=tls, server_hostname=host if tls else None), left)
        except ssl.SSLError:  # the server's answer, not the address's fault
            raise
        except OSError as exc:  # refused or unreachable: the next address may do
            error = exc
    raise error


class Response:
    """Status and headers as soon as they arrive; the body read whole (``aread``) or as it
    comes (``iter_bytes``, ``iter_lines``)."""

    def __init__(self, conn: h11.Connection, reader: asyncio.StreamReader, timeout: float, connect_s: float):
        self._conn, self._reader, self._timeout = conn, reader, timeout
        self.connect_seconds = connect_s
        self.status_code = 0
        self.headers: dict[str, str] = {}
        self.content = b""
        self.complete = False

    async def _next_event(self):
        while True:
            with _mapped("reading the answer"):
                event = self._conn.next_event()
                if event is h11.NEED_DATA:
                    data = await asyncio.wait_for(self._reader.read(65536), self._timeout)
                    self._conn.receive_data(data)  # b"" is the end of the stream
                    continue
            return event

    async def _start(self) -> None:
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Response):
                self.status_code = event.status_code
                self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
                return
            if not isinstance(event, h11.InformationalResponse):  # 100 Continue and such are skipped
                raise HTTPError("protocol", f"reading the answer: unexpected {type(event).__name__}")

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        while not self.complete:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True
            else:
                raise HTTPError("protocol", f"reading the body: unexpected {type(event).__name__}")

    async def iter_lines(self) -> AsyncIterator[str]:
        pending = b""
        async for chunk in self.iter_bytes():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:  # split on bytes: a UTF-8 character may straddle two chunks
                yield line.rstrip(b"\r").decode("utf-8", errors="replace")
        if pending:
            yield pending.decode("utf-8", errors="replace")

    async def aread(self) -> bytes:
        self.content = b"".join([chunk async for chunk in self.iter_bytes()])
        return self.content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self):
        return jsonlib.loads(self.content)


@asynccontextmanager
async def stream(method: str, url: str, *, headers: Mapping[str, str] | None = None, json=None,
                 timeout: float = 5.0, uds: str | None = None) -> AsyncIterator[Response]:
    """Send one request and yield the Response once its headers are in. ``timeout`` bounds the
    connect and each read, as httpx's does. ``uds``: connect to this Unix socket instead."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise HTTPError("error", f"not an http(s) URL: {url!r}")
    body = jsonlib.dumps(json).encode() if json is not None else b""
    fields = [("Host", parts.netloc.rpartition("@")[2]), ("User-Agent", USER_AGENT), ("Accept", "*/*"),
              ("Connection", "close")]
    if json is not None:
        fields += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    fields += list((headers or {}).items())
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = h11.Connection(h11.CLIENT)
    with _mapped("forming the request"):
        request = conn.send(h11.Request(method=method, target=target, headers=fields))
        request += (conn.send(h11.Data(data=body)) if body else b"") + conn.send(h11.EndOfMessage())
    start, writer = time.perf_counter(), None
    try:
        with _mapped(f"connecting to {uds or parts.netloc}"):
            if uds:
                reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(uds), timeout)
            else:
                reader, writer = await open_tcp(parts.hostname, port, timeout, _tls() if https else None)
        response = Response(conn, reader, timeout, time.perf_counter() - start)
        with _mapped("sending the request"):
            writer.write(request)  # one write: no wait on Nagle between headers and body
            await asyncio.wait_for(writer.drain(), timeout)
        await response._start()
        yield response
    finally:
        if writer is not None:
            writer.transport.abort()  # not close(): an unread stream (or a TLS goodbye) is not waited for


async def request(method: str, url: str, **options) -> Response:
    """The whole answer, body read."""
    async with stream(method, url, **options) as response:
        await response.aread()
    return response
