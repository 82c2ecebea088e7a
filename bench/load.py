"""The load generator: streamed requests through httpx at a fixed concurrency, timing the first
token and the full reply of each. Its own overhead is measured by the accuracy benchmark,
against emulators whose injected delay is known."""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from adapters import http
from core.stats import percentile


@dataclass
class Sample:
    ok: bool
    first_token_s: float | None = None
    total_s: float | None = None
    tokens: int = 0
    error: str = ""
    prompt_tokens: int | None = None      # the API's own count (its `usage`), for the cost section
    completion_tokens: int | None = None


@dataclass
class Level:
    target: str
    concurrency: int
    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0
    resources: dict = field(default_factory=dict)   # filled by the sampler
    loop_lag_s: list[float] = field(default_factory=list)  # the generator's own scheduling delay

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    @property
    def error_rate(self) -> float:
        return 1 - len(self.ok) / len(self.samples) if self.samples else 0.0

    def pct(self, attr: str, p: float) -> float | None:
        return percentile([getattr(s, attr) for s in self.ok], p)

    @property
    def tokens_per_s(self) -> float | None:
        rates = [s.tokens / (s.total_s - s.first_token_s) for s in self.ok
                 if s.tokens > 1 and s.total_s and s.total_s > s.first_token_s]
        return sum(rates) / len(rates) if rates else None


@dataclass(frozen=True)
class Target:
    name: str       # "local" or "api"
    url: str
    model: str
    key: str = field(default="", repr=False)
    ca_file: str | None = None    # api.ca_file: the CA that signed the API's certificate, if not a public one

    def request(self) -> tuple[str, dict, dict]:
        if self.name == "local":
            return (self.url + "/api/generate",
                    {"model": self.model, "prompt": "你好，介绍一下你自己。", "stream": True}, {})
        return (self.url + "/chat/completions",
                {"model": self.model, "stream": True, "stream_options": {"include_usage": True},
                 "messages": [{"role": "user", "content": "你好，介绍一下你自己。"}]},
                {"Authorization": f"Bearer {self.key}"})


async def one(client, target: Target) -> Sample:
    url, body, headers = target.request()
    start = time.perf_counter()
    first, tokens, usage = None, 0, {}
    try:
        async with http.failures(f"streaming from {target.name}", url), \
                client.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
                return Sample(False, error=f"HTTP {response.status_code}")
            async for line in response.aiter_lines():
                usage = usage or _usage(target.name, line)
                token = _token(target.name, line)
                if token is None:
                    continue
                if isinstance(token, Exception):
                    return Sample(False, error=str(token))
                if first is None:
                    first = time.perf_counter() - start
                tokens += 1
        return Sample(first is not None, first, time.perf_counter() - start, tokens,
                      "" if first is not None else "no token", usage.get("prompt_tokens"),
                      usage.get("completion_tokens"))
    except http.HTTPError as exc:
        return Sample(False, error=exc.kind)


def _usage(kind: str, line: str) -> dict:
    """The API's token counts, from the chunk `stream_options.include_usage` adds at the end."""
    if kind != "api" or not line.startswith("data:") or '"usage"' not in line:
        return {}
    try:
        usage = json.loads(line[5:].strip()).get("usage") or {}
    except ValueError:
        return {}
    return {k: usage[k] for k in ("prompt_tokens", "completion_tokens") if isinstance(usage.get(k), int)}


def _token(kind: str, line: str):
    """A token's text, None for a line that carries none, or an Exception for an error line."""
    if not line.strip():
        return None
    if kind == "local":
        item = json.loads(line)
        if "error" in item:
            return RuntimeError(item["error"])
        return item.get("response") or None
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    item = json.loads(data)
    choices = item.get("choices") or []
    return (choices[0].get("delta") or {}).get("content") or None if choices else None


async def _lag_monitor(lags: list[float], period: float = 0.01) -> None:
    """How late the event loop wakes a 10 ms sleeper: the load generator's own overhead,
    which every latency it measures may carry."""
    while True:
        due = time.perf_counter() + period
        await asyncio.sleep(period)
        lags.append(max(time.perf_counter() - due, 0.0))


async def run_level(target: Target, concurrency: int, requests: int, timeout: float, progress=None) -> Level:
    """``requests`` streamed requests from ``concurrency`` workers. Each worker has its own
    client and connection: httpcore's shared pool rescans every connection on each event, which
    at 50 connections costs more CPU than the measurement can bear."""
    level = Level(target.name, concurrency)
    remaining = [requests]
    warm = target.url + ("/api/version" if target.name == "local" else "/models")

    def client():
        return http.client_for(target.url, timeout, target.ca_file, connections=1, nodelay=True)

    clients = [client() for _ in range(concurrency)]
    try:
        # Open every connection first, so that set-up is not counted as the server's latency.
        await asyncio.gather(*(c.get(warm, headers=target.request()[2]) for c in clients), return_exceptions=True)
        start = time.perf_counter()

        async def worker(i, http):
            # Workers start 10 ms apart: a closed loop that starts in lockstep stays in lockstep,
            # and every burst would measure the queue of its own burst.
            await asyncio.sleep(i * 0.01)
            while remaining[0] > 0:
                remaining[0] -= 1
                level.samples.append(await one(http, target))
                if progress:
                    progress()
        monitor = asyncio.create_task(_lag_monitor(level.loop_lag_s))
        await asyncio.gather(*(worker(i, c) for i, c in enumerate(clients)))
        monitor.cancel()
        level.wall_s = time.perf_counter() - start
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return level
