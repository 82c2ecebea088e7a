"""Issue 10's disruption figures: steady chat load (8 clients) through llm-service while
`invoke phase` moves the sandbox 1 -> 2 and 2 -> 3. Prints, for each move, the chats answered
and failed by cause, and the longest stretch without an answer. Target: 0 replies cut mid-way.
Asserts nothing. Needs the sandbox up at stage 1 (benchmarks/run_all.sh does that).

A failed chat is classified by what the client saw:
  refused  the connection was refused, or closed before any answer within 100 ms (Docker's
           loopback proxy accepts and closes at once while no container listens behind it);
  cut      the connection closed after the chat had been under way (the server died with it);
  5xx      an HTTP error status (e.g. 503 while a server stops);
  timeout  no answer within 30 s."""
import argparse
import subprocess
import sys
import threading
import time

import httpx

from common import INVOKE, ROOT, knobs

LLM = "http://127.0.0.1:18000"
QUICK_CLOSE_S = 0.1


class Load:
    def __init__(self, clients: int):
        self.clients, self.stop = clients, threading.Event()
        self.lock = threading.Lock()
        self.answered: list[float] = []          # completion times (monotonic)
        self.failed: dict[str, int] = {}
        self.threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(clients)]

    def _fail(self, cause: str) -> None:
        with self.lock:
            self.failed[cause] = self.failed.get(cause, 0) + 1

    def _worker(self) -> None:
        body = {"messages": [{"role": "user", "content": "你好"}]}
        while not self.stop.is_set():
            start = time.monotonic()
            try:  # a new connection per chat: a stale kept-alive socket is not the server's fault
                r = httpx.post(LLM + "/chat", json=body, timeout=30, trust_env=False,
                               headers={"Connection": "close"})
            except httpx.ConnectError:
                self._fail("refused")
                time.sleep(0.05)
                continue
            except httpx.TimeoutException:
                self._fail("timeout")
                continue
            except httpx.TransportError:
                self._fail("refused" if time.monotonic() - start < QUICK_CLOSE_S else "cut")
                time.sleep(0.05)
                continue
            if r.status_code >= 500:
                self._fail("5xx")
                time.sleep(0.05)
            elif r.status_code == 200:
                with self.lock:
                    self.answered.append(time.monotonic())
            else:
                self._fail(f"http {r.status_code}")

    def __enter__(self):
        self.started = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(40)
        self.ended = time.monotonic()

    def longest_gap(self) -> float:
        marks = [self.started, *sorted(self.answered), self.ended]
        return max(b - a for a, b in zip(marks, marks[1:]))


def move(stage: int, clients: int, settle: float, force: bool) -> None:
    argv = INVOKE + ["phase", "--stage", str(stage), "--yes"] + (["--force"] if force else [])
    with Load(clients) as load:
        time.sleep(settle)
        t0 = time.monotonic()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        took = time.monotonic() - t0
        time.sleep(settle)
    failed = ", ".join(f"{n} {cause}" for cause, n in sorted(load.failed.items())) or "none"
    print(f"move -> {stage}: phase exit {done.returncode} in {took:.1f} s; chats answered {len(load.answered)}, "
          f"failed {sum(load.failed.values())} ({failed}); longest stretch without an answer "
          f"{load.longest_gap():.2f} s; cut mid-reply {load.failed.get('cut', 0)} (target 0)")
    if done.returncode:
        print("  phase output (tail): " + " | ".join((done.stdout + done.stderr).strip().splitlines()[-4:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of load before and after each move")
    args = parser.parse_args()
    # Replies that take a while, so that a restart finds chats in flight: ~0.5 s local, ~0.8 s API.
    knobs("http://127.0.0.1:11434", first_token_delay=0.2, token_rate=40, reply_tokens=12)
    knobs("http://127.0.0.1:18080", first_token_delay=0.5, token_rate=40, reply_tokens=12)
    print(f"{args.clients} clients chatting through llm-service ({LLM}) while the stage moves:")
    move(2, args.clients, args.settle, force=False)
    # The stage-3 gate wants hours of health history; the benchmark measures the move itself.
    move(3, args.clients, args.settle, force=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
