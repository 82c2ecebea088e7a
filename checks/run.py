"""Runs every probe concurrently under one deadline and judges the facts against a stage.

Blocking calls (psutil, name lookups) run in daemon threads, so that a hung one can neither hold
the run past its deadline nor keep the process alive at exit."""
from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
import time
from dataclasses import dataclass

from checks import probes
from checks.model import Result, Status, worst
from core.config import Settings, Stage
from adapters.threads import in_daemon_thread


@dataclass
class Report:
    stage: Stage
    results: list[Result]
    seconds: float
    started: float

    @property
    def status(self) -> Status:
        return worst(r.status for r in self.results)


async def _timed(coro, deadline: float, fallback: dict) -> dict:
    start = time.perf_counter()
    try:
        facts = await asyncio.wait_for(coro, max(deadline - time.perf_counter(), 0.01))
    except asyncio.TimeoutError:
        facts = dict(fallback)
    except Exception as exc:  # a probe's own bug must not hide the other checks
        facts = {**fallback, "detail": f"probe failed: {exc!r}"[:200]}
    facts["probe_seconds"] = time.perf_counter() - start
    return facts


async def _stack_and_host(settings: Settings, timeout: float, stage: Stage) -> dict:
    from checks import stack
    facts = await stack.containers(settings, timeout)
    if stage.local_llm and facts.get("store"):
        facts["integrity"] = await in_daemon_thread(_integrity, facts["store"], settings.local_llm.model)
    local = facts.get("local_container") or {}
    port = probes.host_port(settings.local_llm.probe_url)[1]
    # Free disk where the model files are (the volume may be on another filesystem than the
    # deploy directory); the deploy directory when the store cannot be found.
    disk_at = facts.get("store") or str(settings.deploy_dir)
    facts["host"] = await in_daemon_thread(_host, disk_at, port, local.get("pid"))
    return facts


def _integrity(store: str, model: str) -> list[str] | str:
    """The model's damage in the store (lstat of a few files), or why it could not be read."""
    from core.ollama_store import damage
    try:
        return damage(Path(store), model)
    except OSError as exc:
        return f"the store cannot be read here: {exc.strerror}"


def _host(*args) -> dict:
    # Imported here, not on the event loop: psutil takes ~10 ms to import, which would hold
    # back every request not yet sent.
    from checks import host
    return host.host(*args)


def _process_age() -> float:
    """Seconds since this process started (from /proc: importing psutil here would cost ~35 ms
    on the critical path): the run's bound counts from the operator's Enter."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


async def gather(settings: Settings, stage: Stage, light: bool, timeout: float, spent: float = 0.0) -> dict:
    # The run must end within its timeout: ``spent`` of it is already gone (the health command's
    # start-up), and reporting and exit need a little. HTTP probes stop first, so they say
    # "timeout" themselves.
    budget = max(timeout - spent - 0.15, 0.2)
    deadline = time.perf_counter() + budget
    per = max(budget - 0.1, 0.1)
    local, api = settings.local_llm, settings.api
    host, port = probes.host_port(local.probe_url)
    # The API's first token is the longest wait: its request leaves first.
    jobs = {
        "api": _timed(probes.api(api.probe_url, api.model, settings.api_key, per, not light), deadline,
                      {"auth": "timeout", "url": api.probe_url, "model": api.model}),
        "local_port": _timed(probes.tcp(local.probe_url, min(per, 3.0)), deadline,
                             {"open": False, "error": "timeout", "host": host, "port": port}),
        "stack": _timed(_stack_and_host(settings, per, stage), deadline,
                        {"engine": "timeout", "detail": "the Docker engine did not answer in time"}),
    }
    if stage.local_llm:
        jobs["local"] = _timed(probes.ollama(local.probe_url, local.model, per, not light), deadline,
                               {"error": "timeout", "url": local.probe_url, "model": local.model})
    values = dict(zip(jobs, await asyncio.gather(*jobs.values())))
    if values["api"].get("auth") == "no_key":  # say where the key was looked for
        values["api"]["detail"] = settings.key_source
    return values


def evaluate(settings: Settings, stage: Stage, facts: dict, light: bool) -> list[Result]:
    from checks import judge
    limits = settings.health
    results = judge.local_llm(stage, facts["local_port"], facts.get("local", {}), limits, light)
    results += judge.api(stage, facts["api"], limits, light)
    stack = facts["stack"]
    results += judge.containers(stage, stack, settings.local_llm.container)
    if stage.local_llm:
        results.append(judge.integrity(facts.get("local", {}), stack, settings.local_llm))
    results.append(judge.drift(stage, stack))
    if "host" in stack:
        results.append(judge.host(stack["host"], limits))
    else:
        results.append(Result("host", Status.UNKNOWN, "resources to spare", stack.get("detail", "not measured")))
    seconds = {"local.port": facts["local_port"], "local.model": facts.get("local", {}),
               "local.generate": facts.get("local", {}), "api.auth": facts["api"], "api.generate": facts["api"]}
    for result in results:
        source = seconds.get(result.name, stack)
        result.seconds = source.get("probe_seconds", 0.0)
    return results


def start(settings: Settings, stage: Stage, *, light: bool = False, timeout: float | None = None,
          from_process_start: bool = False):
    """Start the probes in a daemon thread and return a function that waits for the Report.
    The caller can import and prepare what it needs while the probes wait on the network.

    ``from_process_start``: the timeout bounds the whole process (the health command, counted
    from the operator's Enter); otherwise it bounds this run alone (verification inside `phase`,
    which may have been running for minutes)."""
    timeout = timeout or settings.health.timeout
    started, t0 = time.time(), time.perf_counter()
    spent = _process_age() if from_process_start else 0.0
    box: dict = {}

    def probe():
        try:
            box["facts"] = asyncio.run(gather(settings, stage, light, timeout, spent))
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()

    def wait() -> Report:
        thread.join()
        if "error" in box:
            raise box["error"]
        results = evaluate(settings, stage, box["facts"], light)
        return Report(stage, results, time.perf_counter() - t0, started)
    return wait


def run(settings: Settings, stage: Stage, *, light: bool = False, timeout: float | None = None) -> Report:
    return start(settings, stage, light=light, timeout=timeout)()
