"""Gates: what a move must show before it is made. Which gates guard which stage is set in
``migrate.gates.by_stage``; each gate reads (probes, history), never writes."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from adapters import http
from checks import history, probes
from checks.facts import Generation
from core.config import Settings, Stage
from core.stats import percentile


@dataclass
class GateResult:
    name: str
    passed: bool
    detail: str


def key(settings: Settings, **_) -> GateResult:
    return GateResult("key", bool(settings.api_key),
                      f"an API key is set ({settings.key_source})" if settings.api_key else settings.key_source)


def api(settings: Settings, **_) -> GateResult:
    a = settings.api
    facts = http.run(probes.api(a.probe_url, a.model, settings.api_key, a.timeout, True, a.ca_file))
    if facts.auth != "ok":
        return GateResult("api", False, f"the API refused: {facts.auth} {facts.detail}".strip())
    generation = facts.generation
    if generation is None or generation.first_token_s is None:
        words = f"{generation.error} {generation.detail}" if generation else "no answer"
        return GateResult("api", False, f"a tiny completion failed: {words}".strip())
    return GateResult("api", True, f"a tiny completion answered, first token {generation.first_token_s * 1000:.0f} ms")


# What xiaozhi-esp32-server sends the API beyond a plain chat: its `openai` provider turns Qwen3's
# thinking off (or the reply starts late), and its default intent mode (function_call) sends tools.
SERVER_CALLS = {
    "enable_thinking false": {"enable_thinking": False},
    "tools": {"tools": [{"type": "function", "function": {
        "name": "get_weather", "description": "the weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]},
}


def server_calls(settings: Settings, **_) -> GateResult:
    """The calls xiaozhi-esp32-server will make, each a streamed one-token completion; names the failed."""
    if not settings.api_key:
        return GateResult("server-calls", False, settings.key_source)
    a = settings.api

    async def all_calls():
        return await asyncio.gather(*(probes.api_call(a.probe_url, a.model, settings.api_key, a.timeout, extra,
                                                      a.ca_file) for extra in SERVER_CALLS.values()))
    results = dict(zip(SERVER_CALLS, http.run(all_calls())))
    failed = {name: g for name, g in results.items() if g.first_token_s is None}
    if failed:
        return GateResult("server-calls", False, "; ".join(
            f"the completion with {name} failed: {g.error} {g.detail}".strip() for name, g in failed.items()))
    return GateResult("server-calls", True, ", ".join(
        f"with {name}: first token {g.first_token_s * 1000:.0f} ms" for name, g in results.items()))


async def _validate(settings: Settings, n: int) -> list[Generation | None]:
    a = settings.api
    limit = asyncio.Semaphore(4)  # a sample, not a load test: stay far below the RPM quota

    async def one():
        async with limit:
            return (await probes.api(a.probe_url, a.model, settings.api_key, a.timeout, True, a.ca_file)).generation
    return await asyncio.gather(*(one() for _ in range(n)))


def _answer_s(generation: Generation) -> float:
    """First token as the stack sees it on its kept-alive connections: the probe's own connect
    (and TLS handshake) is set-up, not the API's latency."""
    return generation.first_token_s - generation.connect_s


def validation(settings: Settings, **_) -> GateResult:
    g = settings.gates
    if not settings.api_key:
        return GateResult("validation", False, "no API key to validate with")
    results = http.run(_validate(settings, g.validation_prompts))
    good = [_answer_s(r) for r in results if r is not None and r.first_token_s is not None]
    share = len(good) / len(results)
    p95 = percentile(good, 95) * 1000 if good else float("inf")
    passed = share >= g.validation_success and p95 < g.validation_p95_ms
    return GateResult("validation", passed,
                      f"{len(good)}/{len(results)} sample prompts answered ({share:.0%}, need "
                      f"{g.validation_success:.0%}); p95 first token {p95:.0f} ms (bound {g.validation_p95_ms:.0f})")


def health_history(settings: Settings, recorded: int | None, since: float | None, **_) -> GateResult:
    k = settings.gates.history_records
    records = [r for r in history.since(history.read(settings.history_path, settings.health.history_keep), since or 0)
               if r.get("stage") == recorded]
    last = records[-k:]
    if len(last) < k:
        return GateResult("history", False, f"{len(last)} health records at stage {recorded} since it began, "
                                            f"need {k}: run `invoke health` (or `invoke cron.install`) and wait")
    bad = [r for r in last if r["status"] == "CRITICAL"]
    if bad:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(bad[-1]["time"]))
        failing = ", ".join(sorted(n for n, s in bad[-1]["checks"].items() if s == "CRITICAL"))
        return GateResult("history", False, f"{len(bad)} of the last {k} health records are CRITICAL "
                                            f"(last at {when}: {failing})")
    # Observed for a while, not k runs in a minute: the records at this stage (cron's and manual
    # runs alike: one series) must reach back the hours asked, with no gap longer than MAX_GAP_S
    # in that window (nobody watching), and none CRITICAL in it (an older blip does not count).
    hours = settings.gates.history_min_hours
    if hours:
        now, window_s = time.time(), hours * 3600
        start = now - window_s
        if records[0]["time"] > start:
            span = (now - records[0]["time"]) / 3600
            kept = Path(f"{settings.history_path}.{settings.health.history_keep}")
            if kept.exists():   # rotated away: the history cannot reach back far enough
                return GateResult("history", False, f"the health history keeps only {span:.1f} h of records (rotated at "
                                                    "migrate.health.history_max_bytes x history_keep), the gate needs "
                                                    f"{hours:g} h: raise one of them, or run cron less often")
            return GateResult("history", False, f"the health records at stage {recorded} span {span:.1f} h, need "
                                                f"{hours:g} h (migrate.gates.history_min_hours): keep `invoke cron.install` "
                                                f"running and come back in {hours - span:.1f} h")
        window = [r for r in records if r["time"] >= start]
        points = [start] + [r["time"] for r in window] + [now]
        gap, after = max((b - a, a) for a, b in zip(points, points[1:]))
        if gap > MAX_GAP_S:
            return GateResult("history", False, f"no health record for {gap / 3600:.1f} h from "
                                                f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(after))}: the stage was "
                                                f"not watched then; the last {hours:g} h need a record every "
                                                f"{MAX_GAP_S / 3600:g} h at least (cron)")
        bad = [r for r in window if r["status"] == "CRITICAL"]
        if bad:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(bad[-1]["time"]))
            return GateResult("history", False, f"{len(bad)} health record(s) at stage {recorded} in the last {hours:g} h "
                                                f"are CRITICAL (last at {when})")
    return GateResult("history", True, f"no CRITICAL in the last {k} health records at stage {recorded}"
                      + (f", and none in the last {hours:g} h, watched throughout" if hours else ""))


MAX_GAP_S = 6 * 3600   # a longer silence in the window means nobody was watching


GATES = {"key": key, "api": api, "server-calls": server_calls, "validation": validation,
         "history": health_history}  # config.GATE_NAMES


def for_move(settings: Settings, target: Stage, forward: bool) -> list[str]:
    if not forward:  # going back is the safe direction: only what the stage itself needs
        return ["key"] if target.uses_api else []
    return list(settings.gates_by_stage.get(target.number, []))


def run(settings: Settings, names: list[str], recorded: int | None, since: float | None) -> list[GateResult]:
    return [GATES[name](settings, recorded=recorded, since=since) for name in names]
