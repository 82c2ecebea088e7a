"""HTTP for the whole toolkit: httpx, set up one way. No proxy from the environment, no
redirect followed, no retry; TLS verified against certifi's bundle, or against the CA file the
config names for a private endpoint. Failures come as one HTTPError whose ``kind`` is the
operator's word for why: refused, timeout, dns, tls, protocol or error.

Imported lazily on the health path (httpx costs ~60 ms to import): `checks/run.py` does it in
the probes' own thread, while the main thread prepares the report."""
from __future__ import annotations

import asyncio
import socket
import ssl
import sys
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import AsyncIterator
from urllib.parse import urlsplit

if "httpx" not in sys.modules:
    # httpx's command-line client (click, rich) is imported with httpx whenever those happen to
    # be installed (the test tools bring them): ~45 ms of every cron run for a client never used.
    # A None entry makes that one import fail, and httpx falls back as it does without them.
    sys.modules.setdefault("httpx._main", None)
import httpx  # noqa: E402

from core.errors import MigrationError  # noqa: E402
import certifi

USER_AGENT = "xiaozhi-migrate"
_contexts: dict[str | None, ssl.SSLContext] = {}


class HTTPError(MigrationError):
    """No complete answer. Probes turn it into facts; it reaches the operator only through them."""

    def __init__(self, kind: str, what: str):
        super().__init__(what)
        self.kind = kind


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def kind_of(exc: BaseException) -> str:
    """An exception (httpx's, or the OS's beneath it) -> refused, timeout, dns, tls, protocol, error."""
    for cause in _causes(exc):
        if isinstance(cause, HTTPError):
            return cause.kind
        if isinstance(cause, socket.gaierror):
            return "dns"
        if isinstance(cause, ConnectionRefusedError):
            return "refused"
        if isinstance(cause, ssl.SSLError):  # certificate errors included
            return "tls"
    if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.DecodingError)):
        return "protocol"
    return "error"


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Verifying certificates and host names against ``ca_file``, else certifi's bundle; built
    once per process and file (loading a bundle costs ~40 ms)."""
    if ca_file not in _contexts:
        cafile = certifi.where() if ca_file is None else ca_file
        try:
            _contexts[ca_file] = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise HTTPError("tls", f"the CA file {ca_file} cannot be used: {exc}") from None
    return _contexts[ca_file]


# httpx writes a request's headers and body separately: without TCP_NODELAY, Nagle's algorithm
# adds up to 40 ms to a first token measured on the wire (the bench asks for it).
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def client(timeout: float, *, https: bool = True, ca_file: str | None = None, uds: str | None = None,
           connections: int = 10, nodelay: bool = False) -> httpx.AsyncClient:
    """An AsyncClient as the toolkit uses them. ``https=False`` (plain-http endpoints and the
    engine's socket) skips loading a CA bundle: such a client refuses every certificate."""
    verify = tls_context(ca_file) if https else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    transport = httpx.AsyncHTTPTransport(verify=verify, uds=uds, retries=0,
                                         socket_options=NODELAY if nodelay else None,
                                         limits=httpx.Limits(max_connections=connections,
                                                             max_keepalive_connections=connections))
    return httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False, follow_redirects=False,
                             headers={"User-Agent": USER_AGENT})


def client_for(url: str, timeout: float, ca_file: str | None = None, **options) -> httpx.AsyncClient:
    return client(timeout, https=urlsplit(url).scheme == "https", ca_file=ca_file, **options)


def request(method: str, url: str, *, timeout: float, json=None, ca_file: str | None = None,
            headers: dict | None = None) -> tuple[int, str]:
    """One blocking request, set up as every other (no proxy from the environment, no redirect,
    no retry): (status, body text). Raises HTTPError when no complete answer came."""
    https = urlsplit(url).scheme == "https"
    verify = tls_context(ca_file) if https else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        with httpx.Client(transport=httpx.HTTPTransport(verify=verify, retries=0), timeout=timeout, trust_env=False,
                          follow_redirects=False, headers={"User-Agent": USER_AGENT}) as c:
            response = c.request(method, url, json=json, headers=headers)
            return response.status_code, response.text
    except httpx.LocalProtocolError:
        raise HTTPError("error", f"{method} {url}: the request could not be formed") from None
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        kind = kind_of(exc)
        raise HTTPError(kind, f"{method} {url}: " + ("no answer in time" if kind == "timeout"
                                                     else f"{exc or type(exc).__name__}")) from None


@asynccontextmanager
async def failures(doing: str, url: str) -> AsyncIterator[None]:
    """Turn what httpx and the OS raise into HTTPError. The host's name is looked up alongside
    (once per host and run): a connection that times out while the name has no answer yet is a
    DNS failure, and is said so."""
    host = urlsplit(url).hostname or ""
    lookup = _lookup(host)
    try:
        yield
    except httpx.LocalProtocolError:
        # Its message quotes the offending header, which may be the Authorization header.
        raise HTTPError("error", f"{doing}: the request could not be formed (an illegal character in a "
                                 "header value?)") from None
    except (httpx.HTTPError, httpx.InvalidURL, OSError, asyncio.TimeoutError) as exc:
        kind = kind_of(exc)
        if kind == "timeout" and lookup is not None and (not lookup.done() or lookup.exception()):
            raise HTTPError("dns", f"{doing}: looking up {host}: no answer in time") from None
        raise HTTPError(kind, f"{doing}: no answer in time" if kind == "timeout"
                        else f"{doing}: {exc or type(exc).__name__}") from None


_lookups: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Task]]" = \
    weakref.WeakKeyDictionary()


def _lookup(host: str) -> asyncio.Task | None:
    """This run's lookup of ``host`` (None for an address): started by the first request to it,
    shared by the others. asyncio.run cancels it if it is still waiting at the end."""
    if not host or _is_address(host):
        return None
    loop = asyncio.get_running_loop()
    started = _lookups.setdefault(loop, {})
    if host not in started:
        task = loop.create_task(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no warning
        started[host] = task
    return started[host]


def _is_address(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return True
    except OSError:
        return False


class Timing:
    """httpx's trace hook: how long connecting (and the TLS handshake) took, so that a latency
    judged can leave set-up out, as the stack's kept-alive connections do."""

    def __init__(self):
        self.connect_s = 0.0
        self._started: float | None = None

    async def __call__(self, event: str, info: dict) -> None:
        if event in ("connection.connect_tcp.started", "connection.connect_unix_socket.started"):
            self._started = time.perf_counter()
        elif event in ("connection.start_tls.complete", "connection.connect_tcp.complete",
                       "connection.connect_unix_socket.complete") and self._started is not None:
            self.connect_s = time.perf_counter() - self._started


class _DaemonExecutor(ThreadPoolExecutor):
    """asyncio.run waits at its end for its default executor, where name lookups run: one DNS
    server that never answers would keep cron's health check alive past its deadline. Each call
    gets a daemon thread instead, that nothing waits for."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()

        def work():
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # handed to whoever awaits it
                    future.set_exception(exc)
        threading.Thread(target=work, daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


def run(coro):
    """asyncio.run whose blocking helpers (name lookups, run_in_executor(None, ...)) never hold
    the process: see _DaemonExecutor."""
    async def main():
        asyncio.get_running_loop().set_default_executor(_DaemonExecutor(max_workers=1))
        return await coro
    return asyncio.run(main())
