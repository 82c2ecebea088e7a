"""The outage plan's figure (issue 26): with the stack at stage 3 and the API failing, how long
from `invoke outage` until every chat is answered by the local model. Target: 15 s or less.
Prints the figure; asserts nothing. Needs the sandbox at stage 3 (benchmarks/run_all.sh runs it
after move_disruption.py), and ends it back at stage 3 with `invoke outage --end`.

Chats go through llm-service all along, 4 clients: the figure is the time from the command's
start to the first chat answered by the local model; from then on every chat is (the API
emulator fails every call meanwhile, so before the move no chat gets an answer)."""
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from common import INVOKE, ROOT, SETTINGS, knobs

LOCAL, API, LLM = "http://127.0.0.1:11434", "http://127.0.0.1:18080", "http://127.0.0.1:18000"


def local_count() -> int:
    return httpx.get(LOCAL + "/_sandbox/stats", timeout=5, trust_env=False).json()["requests"].get("POST /api/chat", 0)


def model_back() -> None:
    """The model in the sandbox's store again, as `ollama pull` would put it (the sandbox
    decommissions without a quarantine, so the outage has no copy to restore)."""
    import docker
    sys.path.insert(0, str(ROOT))   # the sandbox's store layout, as the tests use it
    from sandbox.store import Store, build
    client = docker.from_env()
    store = Path(client.volumes.get(f"{SETTINGS['project']}_ollama").attrs["Mountpoint"]) / "models"
    if Store(store).find("qwen2:7b") is None:
        build(store, size_gb=0.5)


def main() -> int:
    model_back()
    knobs(API, error_rate=1.0)
    answered_local: list[float] = []
    stop = threading.Event()

    def client():
        with httpx.Client(timeout=10, trust_env=False) as http:
            while not stop.is_set():
                try:
                    r = http.post(LLM + "/chat", json={"prompt": "hi"})
                    if r.status_code == 200 and r.json().get("provider") == "local":
                        answered_local.append(time.monotonic())
                except (httpx.HTTPError, ValueError):
                    time.sleep(0.05)
    threads = [threading.Thread(target=client, daemon=True) for _ in range(4)]
    try:
        t0 = time.monotonic()
        for t in threads:
            t.start()
        done = subprocess.run(INVOKE + ["outage", "--yes"], cwd=ROOT, capture_output=True, text=True, timeout=600)
        took = time.monotonic() - t0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len([t for t in answered_local if t > t0]) < 20:
            time.sleep(0.1)
        stop.set()
        after = sorted(t for t in answered_local if t > t0)
        print(f"outage: command exit {done.returncode} in {took:.1f} s; every chat on the local model "
              + (f"{after[0] - t0:.1f} s after the command (target 15 s); {len(after)} local answers by the end"
                 if after else "not reached within 60 s"))
        if done.returncode:
            print("  outage output (tail): " + " | ".join((done.stdout + done.stderr).strip().splitlines()[-4:]))
    finally:
        stop.set()
        knobs(API, error_rate=0)
        end = subprocess.run(INVOKE + ["outage", "--end", "--yes"], cwd=ROOT, capture_output=True, text=True, timeout=600)
        print(f"outage --end: exit {end.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
