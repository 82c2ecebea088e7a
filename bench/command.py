"""`invoke bench`: parse the levels, run them with a progress bar, write report and chart."""
from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from pathlib import Path

import psutil

from bench import cost, report
from bench.load import Target, run_level
from bench.sample import Sampler
from core.config import Settings
from core.errors import ConfigError
from core.files import atomic_write
from adapters import docker_api


def parse_levels(text: str) -> list[int]:
    try:
        levels = sorted({int(x) for x in str(text).split(",") if x.strip()})
    except ValueError:
        levels = []
    if not levels or levels[0] < 1 or levels[-1] > 500:
        raise ConfigError(f"invalid levels {text!r}", where="--concurrency", hint="e.g. 1,8,20,50 (each 1-500)")
    return levels


def targets(settings: Settings, which: str) -> list[Target]:
    if which not in ("local", "api", "both"):
        raise ConfigError(f"unknown target {which!r}", where="--target", hint="local, api or both")
    out = []
    if which in ("local", "both"):
        out.append(Target("local", settings.local_llm.probe_url, settings.local_llm.model))
    if which in ("api", "both"):
        if not settings.api_key:
            raise ConfigError("the API target needs a key", where="QWEN_API_KEY / DASHSCOPE_API_KEY",
                              hint="export QWEN_API_KEY=... or use --target local")
        out.append(Target("api", settings.api.probe_url, settings.api.model, settings.api_key, settings.api.ca_file))
    return out


class Progress:
    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.stream, self.start = total, 0, stream, time.monotonic()

    def __call__(self):
        self.done += 1
        width = 30
        filled = int(width * self.done / self.total)
        self.stream.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                          f"{time.monotonic() - self.start:.0f}s")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def _local_pid(settings: Settings) -> int | None:
    """The process whose tree is the local model: its container's, or with ``runs_on: host`` the
    host's `ollama serve` (None: not found, and the report says n/a rather than a made-up 0)."""
    if settings.local_llm.on_host:
        return host_ollama_pid()
    try:
        found = docker_api.inspect_or_none(docker_api.client(), settings.local_llm.container)
        return found["State"]["Pid"] if found and found["State"].get("Status") == "running" else None
    except Exception:
        return None


def host_ollama_pid() -> int | None:
    """The host's Ollama server: a process named ollama whose command line says serve (the runners
    it starts per model are its children, and counted with it)."""
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        info = proc.info
        if info.get("name") == "ollama" and "serve" in (info.get("cmdline") or []):
            return info["pid"]
    return None


def bench(settings: Settings, *, target="both", concurrency="1,8,20,50", requests=40, out_dir="reports",
          chats_per_day: int | None = None, out=print) -> Path:
    levels_wanted, chosen = parse_levels(concurrency), targets(settings, target)
    if int(requests) < 1:
        raise ConfigError(f"invalid --requests {requests!r}", where="--requests", hint="at least 1")
    pid = _local_pid(settings)
    levels = []
    for t in chosen:
        for c in levels_wanted:
            out(f"{t.name} at concurrency {c}: {requests} streamed requests to {t.url}")
            with Sampler(pid if t.name == "local" else None) as sampler:
                level = asyncio.run(run_level(t, c, int(requests), settings.api.timeout, Progress(int(requests))))
            level.resources = sampler.summary()
            levels.append(level)
            out(f"  first token p50 {report._ms(level.pct('first_token_s', 50))}, "
                f"p95 {report._ms(level.pct('first_token_s', 95))}, errors {level.error_rate:.1%}")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    png = report.chart(levels, folder / f"bench-{stamp}.png")
    tokens = cost.measured([s for lv in levels if lv.target == "api" for s in lv.samples])
    model = settings.api.model
    context = {"host": socket.gethostname(), "requests": requests, "chart": png.name,
               "urls": {t.name: t.url for t in chosen},
               "cost": cost.section(tokens, model, settings.api_prices.get(model), settings.stages, chats_per_day)}
    md = folder / f"bench-{stamp}.md"
    atomic_write(md, report.markdown(levels, context))
    raw = [{"target": lv.target, "concurrency": lv.concurrency, "wall_s": lv.wall_s, "resources": lv.resources,
            "samples": [s.__dict__ for s in lv.samples]} for lv in levels]
    atomic_write(folder / f"bench-{stamp}.json", json.dumps(raw))
    if tokens is not None and settings.deploy_dir.is_dir():   # `invoke status` projects the stage's cost from it
        atomic_write(settings.deploy_dir / cost.MEASURED, json.dumps(
            {"time": time.time(), "model": model, "chats": tokens.chats, "prompt": tokens.prompt,
             "completion": tokens.completion, "report": str(md.resolve())}) + "\n")
    out(f"report: {md}\nchart: {png}")
    return md
