"""Draining the local LLM: wait until no client holds a connection to it.

A container's sockets live in its own network namespace, invisible to a host-wide socket list:
clients on the compose network (llm-service) are counted from ``/proc/<pid>/net/tcp*`` of the
container's process; without a pid, the host's own table is read."""
from __future__ import annotations

import time
from pathlib import Path

ESTABLISHED = "01"


def parse_tcp_table(text: str, port: int) -> int:
    """Established connections whose local port is ``port`` in a /proc/net/tcp(6) table."""
    count = 0
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        local, state = fields[1], fields[3]
        if state == ESTABLISHED and int(local.rsplit(":", 1)[1], 16) == port:
            count += 1
    return count


def established(port: int, pid: int | None, proc: Path = Path("/proc")) -> int:
    base = proc / str(pid) / "net" if pid else proc / "net"
    total = 0
    for name in ("tcp", "tcp6"):
        try:
            total += parse_tcp_table((base / name).read_text(), port)
        except OSError:
            continue
    return total


def wait(port: int, pid: int | None, timeout: float, out, interval: float = 1.0, clock=time.monotonic,
         sleep=time.sleep) -> tuple[bool, int]:
    """(drained, connections left). Prints progress while waiting."""
    deadline = clock() + timeout
    while True:
        left = established(port, pid)
        if left == 0:
            return True, 0
        remaining = deadline - clock()
        if remaining <= 0:
            return False, left
        out(f"  draining: {left} connection(s) to :{port} still open, {remaining:.0f} s left")
        sleep(min(interval, remaining))
