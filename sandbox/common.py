"""Shared plumbing of the sandbox emulators: a threaded HTTP/1.1 server, JSON and streaming
replies, and the knobs (first-token delay, token rate, reply length, error rate, hang) that
give benchmarks and health tests a known ground truth.

Standard library only: this runs in a bare ``python3`` image.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A reply is built from these words, so that streamed text looks like text and is deterministic.
WORDS = ("你好", "，", "我是", "小智", "。", "今天", "天气", "很好", "，", "有", "什么",
         "可以", "帮", "你", "的", "吗", "？")


@dataclass
class Knobs:
    """What an emulator injects. Times are seconds; ``hang`` accepts and never answers."""
    first_token_delay: float = 0.0
    token_rate: float = 0.0          # tokens per second after the first; 0 = as fast as possible
    reply_tokens: int = 12
    error_rate: float = 0.0          # probability that a request fails the emulated way
    hang: bool = False
    tools_unsupported: bool = False  # a model that refuses a request carrying `tools` (400)


    def update(self, changes: dict) -> None:
        """Apply a partial update (from the admin route) all at once, or not at all."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown knob {unknown[0]!r}; known: {', '.join(sorted(known))}")
        trial = Knobs(**self.as_dict())
        for key, value in changes.items():
            current = getattr(trial, key)
            setattr(trial, key, bool(value) if isinstance(current, bool) else type(current)(value))
        trial.validate()
        for key in changes:
            setattr(self, key, getattr(trial, key))

    def validate(self) -> None:
        if self.first_token_delay < 0 or self.token_rate < 0 or self.reply_tokens < 1:
            raise ValueError("delays and rates must be >= 0 and reply_tokens >= 1")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")

    def as_dict(self) -> dict:
        return asdict(self)


def add_knob_args(parser: argparse.ArgumentParser) -> None:
    """Flags for the knobs; each defaults to its SANDBOX_* environment variable."""
    env = os.environ.get
    parser.add_argument("--first-token-ms", type=float,
                        default=float(env("SANDBOX_FIRST_TOKEN_MS", "0")),
                        help="delay before the first token, ms (env SANDBOX_FIRST_TOKEN_MS)")
    parser.add_argument("--token-rate", type=float, default=float(env("SANDBOX_TOKEN_RATE", "0")),
                        help="tokens per second after the first, 0 = no pacing (env SANDBOX_TOKEN_RATE)")
    parser.add_argument("--reply-tokens", type=int, default=int(env("SANDBOX_REPLY_TOKENS", "12")),
                        help="tokens in each reply (env SANDBOX_REPLY_TOKENS)")
    parser.add_argument("--error-rate", type=float, default=float(env("SANDBOX_ERROR_RATE", "0")),
                        help="share of requests that fail, 0..1 (env SANDBOX_ERROR_RATE)")
    parser.add_argument("--hang", action="store_true",
                        default=env("SANDBOX_HANG", "") not in ("", "0", "false"),
                        help="accept connections and never answer (env SANDBOX_HANG)")
    parser.add_argument("--host", default=env("SANDBOX_BIND", "127.0.0.1"),
                        help="address to bind (env SANDBOX_BIND; 0.0.0.0 inside a container)")


def knobs_from_args(args: argparse.Namespace) -> Knobs:
    knobs = Knobs(first_token_delay=args.first_token_ms / 1000.0, token_rate=args.token_rate,
                  reply_tokens=args.reply_tokens, error_rate=args.error_rate, hang=args.hang)
    knobs.validate()
    return knobs


def reply_words(n: int) -> list[str]:
    return [WORDS[i % len(WORDS)] for i in range(n)]


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def request_id() -> str:
    return str(uuid.uuid4())


class BadRequest(Exception):
    """Malformed input: each emulator turns it into a 400 in its own error shape."""


class EmulatorServer(ThreadingHTTPServer):   # its handlers already run on daemon workers
    allow_reuse_address = True
    request_queue_size = 256  # socketserver's default of 5 drops SYNs under a 50-client load

    def __init__(self, address, handler, knobs: Knobs):
        super().__init__(address, handler)
        self.knobs = knobs
        self.stopping = threading.Event()
        self.rng = random.Random()
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}  # requests per route: ground truth for traffic splits
        self.in_flight = 0
        self.draining = False             # set on SIGTERM: finish what is in flight, take nothing new

    def shutdown(self) -> None:
        self.stopping.set()
        super().shutdown()

    # In flight counts connections from the moment they are accepted until they close: a
    # connection accepted just before SIGTERM whose request is not read yet is work to finish too.
    def process_request(self, request, client_address) -> None:
        with self.lock:
            self.in_flight += 1
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.lock:
                self.in_flight -= 1

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-reply (a timed-out probe, a cancelled stream) is normal.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def should_fail(self) -> bool:
        with self.lock:
            return self.rng.random() < self.knobs.error_rate


class Handler(BaseHTTPRequestHandler):
    """Routes by (method, path) through ``routes``; subclasses add error shapes."""
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY a token written right after the headers waits ~40 ms for a delayed
    # ACK (Nagle), which would falsify every first-token measurement.
    disable_nagle_algorithm = True
    server: EmulatorServer
    routes: dict = {}
    served = 0            # requests answered on this connection (one handler per connection)

    def log_message(self, fmt, *args):  # quiet unless asked: tests and benchmarks read stdout
        if os.environ.get("SANDBOX_ACCESS_LOG"):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # --- dispatch -------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/_sandbox/knobs":
            return self._knobs(method)
        if path == "/_sandbox/stats":
            with self.server.lock:
                return self.send_json(200, {"requests": dict(self.server.counts)})
        route = self.routes.get((method, path))
        if route is None:
            self._drain_body()
            return self.not_found()
        # A kept-alive connection asking again while the server stops is told to go elsewhere; the
        # first request of a connection accepted before the stop is work in flight, and served.
        if self.server.draining and self.served:
            self._drain_body()
            self.close_connection = True
            return self.send_json(503, {"error": "shutting down"}, {"Connection": "close"})
        self.served += 1
        try:
            self._route(method, path, route)
        finally:
            if self.server.draining:
                self.close_connection = True

    def _route(self, method: str, path: str, route: str) -> None:
        with self.server.lock:
            self.server.counts[f"{method} {path}"] = self.server.counts.get(f"{method} {path}", 0) + 1
        if self.server.knobs.hang:
            self.server.stopping.wait()
            self.close_connection = True
            return
        try:
            getattr(self, route)()
        except BadRequest as exc:
            self.bad_request(str(exc))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _knobs(self, method: str) -> None:
        """Not part of any real API: lets tests change the knobs of a running emulator."""
        if method == "POST":
            try:
                self.server.knobs.update(self.read_json())
            except (BadRequest, ValueError, TypeError) as exc:
                return self.send_json(400, {"error": str(exc)})
        self.send_json(200, self.server.knobs.as_dict())

    # --- input ----------------------------------------------------------------------------
    def _drain_body(self) -> bytes:
        # Clients that write headers and body separately (httpx, without TCP_NODELAY) hold the
        # body until the headers are ACKed; a quick ACK spares them the 40 ms delayed ACK.
        if hasattr(socket, "TCP_QUICKACK"):
            try:
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            except OSError:
                pass
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def read_json(self) -> dict:
        raw = self._drain_body()
        if not raw:
            raise BadRequest("missing request body")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"invalid JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        return body

    # --- output ---------------------------------------------------------------------------
    def send_json(self, status: int, obj, headers: dict | None = None) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_text(self, status: int, text: str, content_type="text/plain; charset=utf-8") -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def start_stream(self, content_type: str, headers: dict | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def paced_tokens(self, n: int | None = None):
        """Yield the reply's tokens on the knobs' schedule: the first after the first-token
        delay, the rest at the token rate. Scheduling against a start time keeps the pace
        exact however long the writes take."""
        knobs = self.server.knobs
        words = reply_words(n or knobs.reply_tokens)
        start = time.monotonic()
        for i, word in enumerate(words):
            due = start + knobs.first_token_delay + (i / knobs.token_rate if knobs.token_rate else 0)
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            yield word

    def not_found(self) -> None:
        self.send_text(404, "404 page not found")

    def bad_request(self, message: str) -> None:
        self.send_json(400, {"error": message})


def serve(server: EmulatorServer, name: str, grace: float | None = None) -> None:
    """Serve until SIGTERM (or Ctrl-C), then stop gracefully, as a real service should when Compose
    recreates it: close the listening socket at once (new connections are refused), let the
    requests in flight finish (up to ``grace`` seconds, SANDBOX_GRACE_S, default 30), then exit."""
    host, port = server.server_address[:2]
    print(f"{name} listening on {host}:{port}", flush=True)
    grace = float(os.environ.get("SANDBOX_GRACE_S", "30")) if grace is None else grace
    stop = threading.Event()
    # As PID 1 in a container, SIGTERM has no default action: without a handler `docker stop`
    # would wait for its kill timeout and then cut every reply.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    loop.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.draining = True
    server.shutdown()          # the accept loop ends (and `hang` requests are let go)
    server.socket.close()      # new connections are refused from now on
    deadline = time.monotonic() + grace
    while server.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    print(f"{name} stopped ({server.in_flight} request(s) still in flight)", flush=True)
    server.server_close()


def start_in_thread(server: EmulatorServer) -> threading.Thread:
    """For tests: run a server in a daemon thread; stop it with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread
