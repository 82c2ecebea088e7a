"""Runs every probe concurrently under one deadline and judges the facts against a stage.

Blocking calls (psutil, name lookups) run on daemon workers (adapters.http.run), so that a hung
one can neither hold the run past its deadline nor keep the process alive at exit."""
from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
import time
from dataclasses import dataclass
from typing import Callable

from checks import facts as f
from checks.model import Result, Status, worst
from core.config import Settings, Stage
from checks import judge
from core.ollama_store import damage


@dataclass(frozen=True)
class Extra:
    """What a target adds to the shared checks (the local model, the API, orphans, the host): its
    own probes, run with the others under the same deadline, and its judgement of its stack (its
    containers, its drift). checks/ knows no kind of stack: each target passes its own."""
    jobs: Callable[[Settings, Stage, float], dict]            # name -> (coroutine, fallback facts)
    judge: Callable[[Settings, Stage, dict], list[Result]]     # facts by job name -> results
    after: Callable[[Settings, Stage, dict], list[Result]] | None = None   # results placed after integrity


@dataclass
class Report:
    stage: Stage
    results: list[Result]
    seconds: float
    started: float

    @property
    def status(self) -> Status:
        return worst(r.status for r in self.results)


async def _timed(coro, deadline: float, fallback):
    """The probe's facts, or ``fallback`` (saying timeout) when the deadline comes first."""
    start = time.perf_counter()
    try:
        facts = await asyncio.wait_for(coro, max(deadline - time.perf_counter(), 0.01))
    except asyncio.TimeoutError:
        facts = fallback
    except Exception as exc:  # a probe's own bug must not hide the other checks
        facts, fallback.detail = fallback, f"probe failed: {exc!r}"[:200]
    facts.seconds = time.perf_counter() - start
    return facts


async def _stack_and_host(settings: Settings, timeout: float, stage: Stage, port: int) -> f.Stack:
    from checks import stack
    facts = await stack.containers(settings, timeout)
    loop = asyncio.get_running_loop()
    if stage.local_llm and facts.store:
        facts.integrity = await loop.run_in_executor(None, _integrity, facts.store, settings.local_llm.model)
    local = facts.local_container
    # Free disk where the model files are (the volume may be on another filesystem than the
    # deploy directory); the deploy directory when the store cannot be found.
    disk_at = facts.store or str(settings.deploy_dir)
    facts.host = await loop.run_in_executor(None, _host, disk_at, port, local.pid if local else None)
    return facts


def _integrity(store: str, model: str) -> list[str] | str:
    """The model's damage in the store (lstat of a few files), or why it could not be read."""
    try:
        return damage(Path(store), model)
    except OSError as exc:
        return f"the store cannot be read here: {exc.strerror}"


def _host(*args) -> f.Host:
    # Imported here, not on the event loop: psutil takes ~10 ms to import, which would hold
    # back every request not yet sent.
    from checks import host
    return host.host(*args)


def process_age() -> float:
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


async def gather(settings: Settings, stage: Stage, light: bool, timeout: float, spent: float = 0.0, *,
                 extra: Extra) -> dict:
    # The run must end within its timeout: ``spent`` of it is already gone (the health command's
    # start-up), and reporting and exit need a little. HTTP probes stop first, so they say
    # "timeout" themselves.
    from checks import probes  # httpx comes with it: imported here, in the probes' own thread
    budget = max(timeout - spent - 0.15, 0.2)
    deadline = time.perf_counter() + budget
    per = max(budget - 0.1, 0.1)
    local, api = settings.local_llm, settings.api
    host, port = probes.host_port(local.probe_url)
    # The API's first token is the longest wait: its request leaves first.
    jobs = {
        "api": _timed(probes.api(api.probe_url, api.model, settings.api_key, per, not light, api.ca_file),
                      deadline, f.Api(api.probe_url, api.model, auth="timeout")),
        "local_port": _timed(probes.tcp(local.probe_url, min(per, 3.0)), deadline,
                             f.Port(host, port, open=False, error="timeout")),
        "stack": _timed(_stack_and_host(settings, per, stage, port), deadline,
                        f.Stack("timeout", detail="the Docker engine did not answer in time")),
    }
    if stage.local_llm or local.on_host:  # an Ollama on the host is asked at every stage: it may serve others
        jobs["local"] = _timed(probes.ollama(local.probe_url, local.model, per, stage.local_llm and not light),
                               deadline,
                               f.LocalLLM(local.probe_url, local.model, error="timeout"))
    jobs.update({name: _timed(coro, deadline, fallback)
                 for name, (coro, fallback) in extra.jobs(settings, stage, per).items()})
    values = dict(zip(jobs, await asyncio.gather(*jobs.values())))
    if values["api"].auth == "no_key":  # say where the key was looked for
        values["api"].detail = settings.key_source
    return values


def evaluate(settings: Settings, stage: Stage, facts: dict, light: bool, *, extra: Extra) -> list[Result]:
    limits = settings.health
    local = facts.get("local") or f.LocalLLM(settings.local_llm.probe_url, settings.local_llm.model)
    results = judge.local_llm(stage, facts["local_port"], local, limits, light, settings.local_llm.on_host)
    results += judge.api(stage, facts["api"], limits, light)
    stack = facts["stack"]
    results += extra.judge(settings, stage, facts)
    results += judge.orphans(stack)
    if stage.local_llm:
        results.append(judge.integrity(local, stack, settings.local_llm))
    if extra.after is not None:
        results += extra.after(settings, stage, facts)
    if stack.host is not None:
        results.append(judge.host(stack.host, limits))
    else:
        results.append(Result("host", Status.UNKNOWN, "resources to spare", stack.detail or "not measured"))
    seconds = {"local.port": facts["local_port"], "local.model": local, "local.generate": local,
               "api.auth": facts["api"], "api.generate": facts["api"]}
    for result in results:
        if not result.seconds:  # a target's own results carry their probe's time
            result.seconds = seconds.get(result.name, stack).seconds
    return results


def start(settings: Settings, stage: Stage, *, light: bool = False, timeout: float | None = None,
          from_process_start: bool = False, extra: Extra):
    """Start the probes in a daemon thread and return a function that waits for the Report.
    The caller can import and prepare what it needs while the probes wait on the network.

    ``from_process_start``: the timeout bounds the whole process (the health command, counted
    from the operator's Enter); otherwise it bounds this run alone (verification inside `phase`,
    which may have been running for minutes)."""
    timeout = timeout or settings.health.timeout
    started, t0 = time.time(), time.perf_counter()
    spent = process_age() if from_process_start else 0.0
    box: dict = {}

    def probe():
        try:
            from adapters import http
            box["facts"] = http.run(gather(settings, stage, light, timeout, spent, extra=extra))
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()

    def wait() -> Report:
        thread.join()
        if "error" in box:
            raise box["error"]
        results = evaluate(settings, stage, box["facts"], light, extra=extra)
        return Report(stage, results, time.perf_counter() - t0, started)
    return wait


def run(settings: Settings, stage: Stage, *, light: bool = False, timeout: float | None = None,
        extra: Extra) -> Report:
    return start(settings, stage, light=light, timeout=timeout, extra=extra)()
