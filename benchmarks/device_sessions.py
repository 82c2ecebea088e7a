"""Issue 24's figures: what a stage move costs the devices on the xiaozhi-server target. 20
emulated devices (the device protocol's shape: a websocket per conversation, hello, one turn,
close, as the firmware does per wake word), each starting a conversation every 20-40 s (--gap; one
every 1-2 s across the 20) whose reply streams for about 2.5 s (--talk, the LLM emulators' pace),
while
`invoke phase` moves the sandbox 0 -> 1 -> 2 -> 3 with the emulated server taking 20 s to start
(its models loading). Prints, per move: how long it waited for quiet, the conversations completed
during it, cut (open when the server went down: the turn is lost, the device goes idle), refused
(no server to connect to: the device shows an error, the next wake word tries again) and the
longest stretch with no server to connect to. Target: 0 cut. Asserts nothing; loopback only;
bounded in count and time. Brings its own sandbox project up and down. (With a conversation every
2-4 s per device and turns of seconds, 20 devices are never all quiet at once: each move would wait
out --quiet-wait and be refused; --restart-at-once shows what the restarts cost without waiting.)"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml

from common import ROOT, knobs

sys.path.insert(0, str(ROOT))
from sandbox.websocket import Client, Closed  # noqa: E402  (the emulators' own client, standard library)

SERVER = "http://127.0.0.1:18000"


class Devices:
    def __init__(self, n: int, gap: tuple[float, float], seed: int = 24):
        self.stop, self.lock = threading.Event(), threading.Lock()
        self.events: list[tuple[float, str]] = []   # (time, completed | cut | refused)
        self.rng = random.Random(seed)
        self.gap = gap
        self.threads = [threading.Thread(target=self._device, args=(f"02:5a:00:24:00:{i:02x}",), daemon=True)
                        for i in range(n)]

    def _note(self, what: str) -> None:
        with self.lock:
            self.events.append((time.time(), what))

    def _device(self, mac: str) -> None:
        while not self.stop.is_set():
            try:
                conn = Client.open(SERVER.replace("http", "ws") + "/xiaozhi/v1/", mac, timeout=10)
            except (OSError, ConnectionError):
                self._note("refused")
                self.stop.wait(1.0)   # the next wake word
                continue
            try:
                conn.send({"type": "hello", "version": 1, "transport": "websocket"})
                hello = conn.receive()
                conn.send({"session_id": hello["session_id"], "type": "listen", "state": "detect", "text": "你好"})
                while True:
                    message = conn.receive() or {}
                    if message.get("state") == "stop":
                        break
                self._note("cut" if message.get("error") else "completed")
            except (Closed, OSError, ValueError, TypeError, KeyError):
                self._note("cut")
            finally:
                conn.close()
            with self.lock:
                pause = self.rng.uniform(*self.gap)
            self.stop.wait(pause)

    def between(self, start: float, end: float) -> dict:
        with self.lock:
            seen = [(t, w) for t, w in self.events if start <= t <= end]
        counts = {w: sum(1 for _, x in seen if x == w) for w in ("completed", "cut", "refused")}
        longest, since = 0.0, None
        for t, w in seen:   # the longest stretch in which connections were refused
            if w == "refused":
                since = t if since is None else since
                longest = max(longest, t - since)
            else:
                since = None
        return {**counts, "unreachable_s": longest}


def run(config: Path, *args: str, env: dict) -> tuple[int, list[tuple[float, str]]]:
    """An invoke command, its output lines timestamped as they come."""
    process = subprocess.Popen([sys.executable, "-m", "invoke", "-f", str(config), *args], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env={**os.environ, **env})
    lines = [(time.time(), line.rstrip()) for line in process.stdout]
    return process.wait(), lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--startup", type=float, default=20.0, help="the emulated server's start-up, seconds")
    parser.add_argument("--restart-at-once", action="store_true",
                        help="the figures before issue 24: each move restarts at once (--quiet-wait 0 --force)")
    parser.add_argument("--gap", default="20,40", help="seconds between one device's conversations: LOW,HIGH")
    parser.add_argument("--talk", type=float, default=2.5, help="seconds a reply streams (the LLM emulators' pace)")
    args = parser.parse_args()
    low, high = (float(x) for x in args.gap.split(","))
    data = yaml.safe_load((ROOT / "sandbox-xiaozhi.yaml").read_text())
    key = data["migrate"]["api"].pop("key")
    env = {"QWEN_API_KEY": key}
    with tempfile.TemporaryDirectory(prefix="device-sessions-") as tmp:
        data["migrate"].update(project="xiaozhi-bench-devices", deploy_dir=str(Path(tmp) / "server"))
        data["migrate"]["sandbox"]["server_startup_s"] = args.startup
        config = Path(tmp) / "bench.yaml"
        config.write_text(yaml.safe_dump(data, allow_unicode=True))
        devices = Devices(args.devices, (low, high))
        try:
            code, lines = run(config, "sandbox.up", env=env)
            if code != 0:
                print("sandbox.up failed:\n" + "\n".join(line for _, line in lines[-15:]))
                return 0
            deadline = time.time() + args.startup + 60
            while time.time() < deadline:
                try:
                    if httpx.get(SERVER, timeout=2, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            m = data["migrate"]
            pace = {"first_token_delay": 0.3, "reply_tokens": 20, "token_rate": 20 / max(args.talk - 0.3, 0.1)}
            for url in (f"http://127.0.0.1:{m['local_llm']['publish']}",
                        f"http://127.0.0.1:{m['extra_services']['dashscope']['publish']}"):
                knobs(url, **pace)
            run(config, "phase", "--stage", "0", "--yes", env=env)
            for thread in devices.threads:
                thread.start()
            time.sleep(5)
            print(f"{args.devices} devices, a conversation every {low:g}-{high:g} s each, replies of {args.talk:g} s; "
                  f"the server starts in {args.startup:.0f} s; "
                  + ("each move restarts at once (--quiet-wait 0 --force)" if args.restart_at_once
                     else "each move waits for quiet (--quiet-wait 120)"))
            print("move     took    quiet wait  completed  cut  refused  longest unreachable")
            for stage in (1, 2, 3):
                if stage == 3:
                    for _ in range(12):   # the cut-over's gate: a dozen health records at stage 2
                        run(config, "health", "--json", env=env)
                start = time.time()
                waiting = ["--quiet-wait", "0", "--force"] if args.restart_at_once else ["--quiet-wait", "120"]
                code, lines = run(config, "phase", "--stage", str(stage), "--yes", *waiting, env=env)
                end = time.time()
                time.sleep(2)
                quiet = next((line for _, line in lines if line.startswith("no conversation open after")), "")
                wait_s = float(quiet.split()[4]) if quiet else 0.0   # the toolkit's own figure
                seen = devices.between(start, end + 2)
                result = "" if code == 0 else f"  (exit {code}: {[line for _, line in lines][-2:]})"
                print(f"{stage - 1} -> {stage}  {end - start:5.1f} s  {wait_s:8.1f} s  {seen['completed']:9d}  "
                      f"{seen['cut']:3d}  {seen['refused']:7d}  {seen['unreachable_s']:8.1f} s{result}")
        finally:
            devices.stop.set()
            for thread in devices.threads:
                thread.join(15)
            run(config, "sandbox.down", env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
