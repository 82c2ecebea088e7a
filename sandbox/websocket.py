"""The WebSocket framing (RFC 6455) the xiaozhi device protocol runs on, in the standard library
only (the sandbox image has no package index): the server's handshake answer, frames read and
written on a socket's files, and a small client for the emulated devices (``Client``). Text and
binary frames, ping/pong, close; no extensions, no fragmentation (the devices send none)."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


class Closed(Exception):
    """The peer closed the connection (a close frame, or the socket ended)."""


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def read_frame(rfile) -> tuple[int, bytes]:
    head = rfile.read(2)
    if len(head) < 2:
        raise Closed("the connection ended")
    opcode, masked, length = head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
    if length == 126:
        length = struct.unpack(">H", rfile.read(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", rfile.read(8))[0]
    mask = rfile.read(4) if masked else b""
    data = rfile.read(length)
    if len(data) < length:
        raise Closed("the connection ended mid-frame")
    if masked:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return opcode, data


def frame(opcode: int, data: bytes, masked: bool = False) -> bytes:
    n = len(data)
    head = bytes([0x80 | opcode])
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + data
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class Connection:
    """One side of an open WebSocket: JSON messages in and out (the device protocol's shape)."""

    def __init__(self, rfile, wfile, masked: bool):
        self.rfile, self.wfile, self.masked = rfile, wfile, masked

    def send(self, message: dict) -> None:
        self.wfile.write(frame(TEXT, json.dumps(message, ensure_ascii=False).encode(), self.masked))
        self.wfile.flush()

    def receive(self) -> dict | None:
        """The next text message (None for a binary frame); answers pings; raises Closed."""
        while True:
            opcode, data = read_frame(self.rfile)
            if opcode == CLOSE:
                try:
                    self.wfile.write(frame(CLOSE, data[:2], self.masked))
                    self.wfile.flush()
                except OSError:
                    pass
                raise Closed("closed by the peer")
            if opcode == PING:
                self.wfile.write(frame(PONG, data, self.masked))
                self.wfile.flush()
                continue
            if opcode == TEXT:
                return json.loads(data.decode("utf-8"))
            if opcode == BINARY:
                return None

    def close(self) -> None:
        try:
            self.wfile.write(frame(CLOSE, struct.pack(">H", 1000), self.masked))
            self.wfile.flush()
        except OSError:
            pass


class Client(Connection):
    """A device's connection: ``Client.open("ws://127.0.0.1:8000/xiaozhi/v1/", mac)``."""

    @classmethod
    def open(cls, url: str, device_id: str, client_id: str = "", timeout: float = 30) -> "Client":
        parts = urlsplit(url)
        sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   f"device-id: {device_id}\r\nclient-id: {client_id or device_id}\r\nProtocol-Version: 1\r\n\r\n")
        sock.sendall(request.encode())
        rfile = sock.makefile("rb")
        status = rfile.readline().decode("latin-1")
        headers = {}
        while True:
            line = rfile.readline().decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if " 101 " not in status or headers.get("sec-websocket-accept") != accept_key(key):
            sock.close()
            raise ConnectionError(f"no websocket at {url}: {status.strip()}")
        client = cls(rfile, sock.makefile("wb"), masked=True)
        client.sock = sock
        return client

    def close(self) -> None:
        super().close()
        try:
            self.sock.close()
        except OSError:
            pass
