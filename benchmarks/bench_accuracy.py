"""Issue 6's accuracy target: the load generator's measured first-token latency is within 5% of
the delay injected into an emulator, at concurrency 1 to 50 on this machine; its own overhead
(measured with no delay injected) is reported beside it. Runs its own Ollama emulator process
on a loopback port, so the generator and the server do not share an interpreter."""
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.load import Target, run_level  # noqa: E402
from common import free_port, wait_listening  # noqa: E402
from sandbox.store import build  # noqa: E402

INJECTED = 0.3
LEVELS = (1, 8, 20, 50)
REQUESTS = 100


def main() -> int:
    store = Path(tempfile.mkdtemp()) / "models"
    build(store, size_gb=0.01)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "sandbox.ollama", "--port", str(port), "--models", str(store),
                               # One token a reply: the emulator's own capacity (a Python thread
                               # per connection) must not be what the benchmark measures at c=50.
                               "--reply-tokens", "1"],
                              cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_listening(port)
        target = Target("local", url, "qwen2:7b")
        print(f"injected first-token delay {INJECTED * 1000:.0f} ms, {REQUESTS} requests per level")
        httpx.post(url + "/_sandbox/knobs", json={"first_token_delay": 0})
        base = asyncio.run(run_level(target, 1, REQUESTS, 30))
        print(f"floor (no delay injected, concurrency 1): p50 {base.pct('first_token_s', 50) * 1000:.1f} ms "
              "(server + network + generator)")
        print("concurrency  loop lag p99  measured p50  measured p95  error of p50")
        httpx.post(url + "/_sandbox/knobs", json={"first_token_delay": INJECTED})
        for c in LEVELS:
            level = asyncio.run(run_level(target, c, REQUESTS, 30))
            p50, p95 = level.pct("first_token_s", 50), level.pct("first_token_s", 95)
            error = (p50 - INJECTED) / INJECTED
            from core.stats import percentile
            lag = percentile(level.loop_lag_s, 99) or 0.0
            print(f"{c:>11}  {lag * 1000:>9.1f} ms  "
                  f"{p50 * 1000:>9.1f} ms  {p95 * 1000:>9.1f} ms  {error:>+10.1%}  "
                  f"{'ok' if abs(error) <= 0.05 else 'OVER 5%'}")
        print("loop lag: how late the generator's event loop wakes a 10 ms timer: its own overhead")
    finally:
        server.terminate()
        server.wait(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
