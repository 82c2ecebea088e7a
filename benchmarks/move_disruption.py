"""Issues 10 and 24's disruption figures: steady chat load (8 clients) through llm-service while
`invoke phase` moves the sandbox 1 -> 2 and 2 -> 3. Prints, for each move, the chats answered
and failed by cause, and the longest stretch without an answer. Targets: 0 replies cut mid-way;
with llm-service replaced start-first, 0 refused and no stretch without an answer over 0.5 s.
Asserts nothing.

  --shape front      (default) the sandbox as it is: a front calls llm-service by its service
                     name, llm-service has no host port, so moves replace it start-first. Needs
                     the sandbox up at stage 1 (benchmarks/run_all.sh does that).
  --shape published  the older shape, llm-service publishing its own port: moves recreate it
                     stop-first. Brings its own sandbox (a config beside a temporary deploy
                     folder) up and down, on the same ports: the main sandbox must be down.

Behind the front, a chat the front could not pass on comes back 502 with X-Sandbox-Front saying
why (refused / closed), and is counted as if the client had met llm-service itself; one it passed
on again after a reset (X-Sandbox-Front-Retried) is answered, and counted apart.

A failed chat is classified with Docker's own record of the llm-service containers (`docker
events`), not by guessing from timings:
  cut      the chat started before an llm-service container was told to stop (SIGTERM) and
           failed after it: the server had the chat and did not finish it (what graceful
           stopping must prevent; Docker logs the death itself a few ms after the sockets close);
  refused  any other closed connection: no server was ready to take it (the old one had been
           told to stop and closed its listener, the new one was still starting);
  5xx      an HTTP error status (e.g. 503 while a server stops);
  timeout  no answer within 30 s."""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

import tempfile
from pathlib import Path

import httpx
import yaml

from common import INVOKE, ROOT, SANDBOX, SETTINGS, knobs

LLM = "http://127.0.0.1:18000"


class Load:
    def __init__(self, clients: int):
        self.clients, self.stop = clients, threading.Event()
        self.lock = threading.Lock()
        self.answered: list[float] = []          # completion times (monotonic)
        self.retried = 0                         # chats the front passed on again after a reset
        self.failed: dict[str, int] = {}
        self.closed: list[tuple[float, float, str]] = []  # connections closed on us: (start, end, error)
        self.workers = [threading.Thread(target=self._worker, daemon=True) for _ in range(clients)]

    def _fail(self, cause: str) -> None:
        with self.lock:
            self.failed[cause] = self.failed.get(cause, 0) + 1

    def _worker(self) -> None:
        body = {"messages": [{"role": "user", "content": "你好"}]}
        # One client per worker, built before timing starts (building one costs tens of ms); a new
        # connection per chat all the same: a stale kept-alive socket is not the server's fault.
        client = httpx.Client(timeout=30, trust_env=False, headers={"Connection": "close"})
        while not self.stop.is_set():
            start = time.time()
            try:
                r = client.post(LLM + "/chat", json=body)
            except httpx.ConnectError:
                self._fail("refused")
                time.sleep(0.05)
                continue
            except httpx.TimeoutException:
                self._fail("timeout")
                continue
            except httpx.TransportError as exc:  # judged later, against the containers' events
                with self.lock:
                    self.closed.append((start, time.time(), repr(exc)[:100]))
                time.sleep(0.05)
                continue
            front = r.headers.get("X-Sandbox-Front")
            if r.headers.get("X-Sandbox-Front-Retried"):
                with self.lock:
                    self.retried += 1
            if front == "refused":
                self._fail("refused")
                time.sleep(0.05)
            elif front == "closed":
                with self.lock:
                    self.closed.append((start, time.time(), r.text[:100]))
                time.sleep(0.05)
            elif r.status_code >= 500:
                self._fail("5xx")
                time.sleep(0.05)
            elif r.status_code == 200:
                with self.lock:
                    self.answered.append(time.time())
            else:
                self._fail(f"http {r.status_code}")

    def __enter__(self):
        self.started = time.time()
        for t in self.workers:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.workers:
            t.join(40)
        self.ended = time.time()

    def longest_gap(self) -> float:
        return self.gap_at()[0]

    def gap_at(self, top: int = 1) -> tuple[float, float] | list[tuple[float, float]]:
        """(the longest stretch without an answer, when it began), from the first answer to the
        end of the load (before the first, the clients wait for a reply like any other: not a gap)."""
        marks = [*sorted(self.answered), self.ended] if self.answered else [self.started, self.ended]
        gaps = sorted(((b - a, a) for a, b in zip(marks, marks[1:])), reverse=True) or [(0.0, self.started)]
        return gaps[0] if top == 1 else gaps[:top]


def stops(project: str, since: float, until: float) -> list[tuple[float, float]]:
    """(told to stop, died) for each llm-service container of the project that stopped, from the
    engine's event log: the first SIGTERM sent to it, and its death."""
    argv = ["docker", "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "--format", "{{json .}}",
            "--filter", "type=container", "--filter", "event=kill", "--filter", "event=die",
            "--filter", f"label=com.docker.compose.project={project}",
            "--filter", "label=com.docker.compose.service=llm-service"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    told, found = {}, []
    for event in (json.loads(line) for line in out.splitlines() if line.strip()):
        when, who = event["timeNano"] / 1e9, event["Actor"]["ID"]
        if event["Action"] == "kill":
            told.setdefault(who, when)
        elif event["Action"] == "die":
            found.append((told.get(who, when), when))
    return found


def move(invoke: list[str], project: str, stage: int, clients: int, settle: float, force: bool,
         verbose: bool = False) -> None:
    argv = invoke + ["phase", "--stage", str(stage), "--yes"] + (["--force"] if force else [])
    with Load(clients) as load:
        time.sleep(settle)
        t0 = time.time()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        output = [f"+{time.time() - t0:5.1f} s  {line.rstrip()}" for line in proc.stdout]
        done = subprocess.CompletedProcess(argv, proc.wait(), "\n".join(output), "")
        took = time.time() - t0
        time.sleep(settle)
    stopped = stops(project, load.started, load.ended + 1)
    cut = [c for c in load.closed if any(c[0] < told <= c[1] for told, _ in stopped)]
    load.failed["cut"] = len(cut)
    if len(load.closed) > len(cut):
        load.failed["refused"] = load.failed.get("refused", 0) + len(load.closed) - len(cut)
    failed = ", ".join(f"{n} {cause}" for cause, n in sorted(load.failed.items())) or "none"
    how = ("start-first" if "start-first:" in done.stdout else "stop-first" if "stop-first" in done.stdout
           else "no llm-service restart")
    print(f"move -> {stage} ({how}): phase exit {done.returncode} in {took:.1f} s; chats answered {len(load.answered)}, "
          f"failed {sum(load.failed.values())} ({failed}); longest stretch without an answer "
          f"{load.longest_gap():.2f} s; cut mid-reply {load.failed.get('cut', 0)} (target 0)"
          + (f"; {load.retried} answered after the front retried a reset connection" if load.retried else ""))
    if done.returncode:
        print("  phase output (tail): " + " | ".join((done.stdout + done.stderr).strip().splitlines()[-4:]))
    if took > 20 and not verbose:  # unusually slow: show where the time went (diff lines left out)
        diff = ("    -", "    +", "     ", "    @")
        print("  slow move, phase output with times:\n    " + "\n    ".join(
            line for line in done.stdout.splitlines() if not line[10:].startswith(diff)))
    if verbose:
        print("  phase output:\n    " + "\n    ".join((done.stdout + done.stderr).strip().splitlines()))
        print("  the longest stretches without an answer began at: "
              + ", ".join(f"{at - t0:+.2f} s ({gap:.2f} s)" for gap, at in load.gap_at(top=3)))
        print("  llm-service containers told to stop / died at: "
              + ", ".join(f"{told - t0:+.2f} / {died - t0:+.2f} s" for told, died in stopped))
        for start, end, error in load.closed:
            print(f"  {'cut' if (start, end, error) in cut else 'refused'}: {start - t0:+.2f} .. {end - t0:+.2f} s "
                  f"from the phase start: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of load before and after each move")
    parser.add_argument("--verbose", action="store_true", help="list every failure but the refused ones")
    parser.add_argument("--shape", choices=("front", "published"), default="front",
                        help="front: the sandbox as it is (up at stage 1); published: the older shape, brought up here")
    args = parser.parse_args()
    if args.shape == "front":
        return measure(INVOKE, SETTINGS["project"], args)
    data = yaml.safe_load(SANDBOX.read_text())
    with tempfile.TemporaryDirectory(prefix="move-disruption-") as tmp:
        data["migrate"].update(project="xiaozhi-bench-published", deploy_dir=str(Path(tmp) / "deploy"))
        data["migrate"]["sandbox"]["llm_front"] = False
        config = Path(tmp) / "published.yaml"
        config.write_text(yaml.safe_dump(data, allow_unicode=True))
        invoke = [sys.executable, "-m", "invoke", "-f", str(config)]
        try:
            for step in (["sandbox.up"], ["phase", "--stage", "1", "--yes"]):
                done = subprocess.run(invoke + step, cwd=ROOT, capture_output=True, text=True)
                if done.returncode:
                    print(f"{' '.join(step)} failed: " + " | ".join((done.stdout + done.stderr).splitlines()[-4:]))
                    return 0
            return measure(invoke, "xiaozhi-bench-published", args)
        finally:
            subprocess.run(invoke + ["sandbox.down"], cwd=ROOT, capture_output=True)


def measure(invoke: list[str], project: str, args) -> int:
    # Replies that take a while, so that a restart finds chats in flight: ~0.5 s local, ~0.8 s API.
    knobs("http://127.0.0.1:11434", first_token_delay=0.2, token_rate=40, reply_tokens=12)
    knobs("http://127.0.0.1:18080", first_token_delay=0.5, token_rate=40, reply_tokens=12)
    print(f"{args.clients} clients chatting through llm-service ({LLM}, shape {args.shape}) while the stage moves:")
    move(invoke, project, 2, args.clients, args.settle, force=False, verbose=args.verbose)
    # The stage-3 gate wants hours of health history; the benchmark measures the move itself.
    move(invoke, project, 3, args.clients, args.settle, force=True, verbose=args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
