"""Stand-in for whatever in the operator's stack calls llm-service by its service name (the
xiaozhi server's pipeline, an nginx): every request is passed on to ``--upstream``.

    python3 -m sandbox.front --upstream http://llm-service:8000 [--port 8000]

It behaves as a proxy that follows the resolver should (nginx with ``resolver`` and
``proxy_next_upstream error timeout non_idempotent``: without the last, nginx does not pass a POST
on again): it resolves the upstream's name at each request and opens a new connection, trying each
address Docker's DNS gives with a short connect timeout. While a move runs two llm-service
containers, one that has stopped listening refuses and the next is tried; one that has just died
(its address still in the answer, its interface gone) times out in CONNECT_S and the name is
resolved again. A connection reset before any byte of the answer (a connection still in the old
server's accept queue when it closed its listener) is tried once more, on another address first
when the name has one (as nginx moves to the next server: the same draining container may reset
the second one too), and the answer says so in ``X-Sandbox-Front-Retried``, so that a benchmark
can count it. What it could not pass on is answered 502 with ``X-Sandbox-Front`` saying why
(``refused``: no upstream took the connection; ``closed``: the upstream dropped it mid-way)."""
from __future__ import annotations

import argparse
import http.client
import os
import socket
import sys
import time
import urllib.parse

from sandbox.common import EmulatorServer, Handler, Knobs, serve

HEADER = "X-Sandbox-Front"
RETRIED = "X-Sandbox-Front-Retried"
CONNECT_S = 1.0       # per address: a live container answers a SYN in well under a millisecond
ATTEMPTS = 3          # resolutions of the name for a connection that no address took
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}


class FrontServer(EmulatorServer):
    def __init__(self, address, upstream: str, timeout: float = 60):
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"--upstream {upstream!r} is not an http://host:port URL")
        super().__init__(address, FrontHandler, Knobs())
        self.upstream = (parts.hostname, parts.port or 80)
        self.timeout = timeout


class FrontHandler(Handler):
    server: FrontServer

    def _dispatch(self, method: str) -> None:
        if self.path == "/_front/health":
            self._drain_body()
            return self.send_json(200, {"status": "ok", "service": "front"})
        body = self._drain_body()
        host, port = self.server.upstream
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP | {"host"}}
        retried, reset_by = [], set()
        for attempt in range(2):
            sock, address = self._connect(host, port, reset_by)
            if sock is None:
                return self._failed("refused", f"no address of {host}:{port} took the connection")
            sock.settimeout(self.server.timeout)
            conn = http.client.HTTPConnection(host, port, timeout=self.server.timeout)
            conn.sock = sock
            try:
                conn.request(method, self.path, body=body or None, headers={**headers, "Connection": "close"})
                answer = conn.getresponse()
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as exc:
                conn.close()
                if attempt == 0:      # nothing of the answer came: reset in the accept queue
                    retried.append("closed")
                    reset_by.add(address)
                    continue
                return self._failed("closed", f"{host}:{port} dropped the request: {exc!r}")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                return self._failed("closed", f"{host}:{port} dropped the request: {exc!r}")
            try:
                data = answer.read()
            except (OSError, http.client.HTTPException) as exc:
                return self._failed("closed", f"{host}:{port} dropped the answer mid-way: {exc!r}")
            finally:
                conn.close()
            break
        self.send_response(answer.status)
        if retried:
            self.send_header(RETRIED, ",".join(retried))
        for key, value in answer.getheaders():
            if key.lower() not in _HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    @staticmethod
    def _connect(host: str, port: int, last=frozenset()):
        """A connection to an address of the name and that address, those in ``last`` (which
        reset a try of this request) tried after the others; the name is resolved again after a
        round where none took it. (None, None) when no round did. A connection reset while it is
        made (a draining server's queue closed) counts as not taken, as a refusal does."""
        for attempt in range(ATTEMPTS):
            try:
                found = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            except OSError:
                found = []
            for family, kind, proto, _, address in sorted(found, key=lambda info: info[4] in last):
                sock = None
                # a socket that cannot be made (no IPv6 here, no descriptors left): an address not taken
                try:
                    sock = socket.socket(family, kind, proto)
                    sock.settimeout(CONNECT_S)
                    sock.connect(address)
                    return sock, address
                except OSError:
                    if sock is not None:
                        sock.close()
            time.sleep(0.05 * (attempt + 1))
        return None, None

    def _failed(self, why: str, message: str) -> None:
        self.send_json(502, {"error": message}, {HEADER: why})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sandbox.front", description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", required=True, help="http://NAME:PORT of the service behind the front")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default=os.environ.get("SANDBOX_BIND", "127.0.0.1"))
    args = parser.parse_args(argv)
    try:
        server = FrontServer((args.host, args.port), args.upstream)
    except ValueError as exc:
        print(f"sandbox.front: {exc}", file=sys.stderr)
        return 2
    serve(server, "sandbox.front")
    return 0


if __name__ == "__main__":
    sys.exit(main())
