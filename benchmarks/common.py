"""Shared helpers of the benchmark scripts: run the toolkit as a user would, time it."""
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = ROOT / "sandbox.yaml"
SETTINGS = yaml.safe_load(SANDBOX.read_text())["migrate"]
INVOKE = [sys.executable, "-m", "invoke", "-f", str(SANDBOX)]


def knobs(url: str, **values) -> None:
    httpx.post(url + "/_sandbox/knobs", json=values, timeout=5, trust_env=False).raise_for_status()


def timed(argv, runs: int = 5, env=None) -> tuple[float, list[float], int]:
    """(median wall seconds, all runs, last exit code)."""
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, **(env or {})}).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, code


def peak_child_rss_mb() -> float:
    """Peak RSS of the largest child process waited for so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, seconds: float = 10.0) -> None:
    """Until something accepts on 127.0.0.1:port; a server that never comes up stops the benchmark."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {seconds:g} s")
