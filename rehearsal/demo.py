"""`invoke demo`: the whole migration on the sandbox, end to end, with a short report.

Builds the images if needed, brings the sandbox up at stage 0, then runs stages 1, 2 and 3
with health checks between them (stage 3 decommissions the local LLM), measures the traffic
split at the emulators, and tears the sandbox down unless asked to keep it."""
from __future__ import annotations

import dataclasses
import json
import socket
import time
from pathlib import Path

from invoke.config import Config

from adapters import compose, docker_api, http
from core import config as cfg, defaults, registry, state
from core.config import Settings
from core.errors import ConfigError, Refused, VerifyFailed
from orchestration import health as health_command
from orchestration import move
from rehearsal import sandbox_stack

# Ollama's own chat (llm-service, the router) and its OpenAI-compatible one (the server's `ollama` provider)
LOCAL_ROUTES, API_ROUTE = ("POST /api/chat", "POST /v1/chat/completions"), "POST /compatible-mode/v1/chat/completions"


def _counts(url: str) -> dict:
    try:
        return json.loads(http.request("GET", url + "/_sandbox/stats", timeout=5)[1])["requests"]
    except (http.HTTPError, ValueError, KeyError, TypeError):
        return {}


def _sandbox(settings: Settings):
    """The target's own sandbox module (its TargetSpec.sandbox_steps)."""
    return registry.sandbox_of(settings.target)


def front(settings: Settings) -> tuple[str, str, dict, str]:
    """Where a chat enters the sandbox: (root URL, route, body, in words)."""
    return _sandbox(settings).front(settings)


def observed_split(settings: Settings, n: int) -> dict:
    """Send n chats through the stack's front; count what each emulator received."""
    local_url, api_root = settings.local_llm.probe_url, settings.api.probe_url.split("/compatible-mode")[0]
    before = _counts(local_url), _counts(api_root)
    root, route, body, _ = front(settings)
    errors = 0
    for _ in range(n):
        try:
            errors += http.request("POST", root + route, timeout=60, json=body)[0] != 200
        except http.HTTPError:
            errors += 1
    after = _counts(local_url), _counts(api_root)
    local = sum(after[0].get(route, 0) - before[0].get(route, 0) for route in LOCAL_ROUTES)
    api = after[1].get(API_ROUTE, 0) - before[1].get(API_ROUTE, 0)
    return {"local": local, "api": api, "errors": errors}


def settings(given=None, target: str | None = None):
    """The sandbox config under the demo's own project and folder: the one given with -f when it
    is a sandbox config of ``target`` (its ports, its project name + "-demo"), else the target's
    sandbox file over the defaults as project xiaozhi-demo. The demo never touches a real
    deployment or the user's sandbox. ``target``: the -f config's, else the default target."""
    root = Path(__file__).resolve().parent.parent
    data = (cfg.plain(given).get("migrate") or {}) if given is not None else {}
    target = target or (data.get("target") if isinstance(data.get("sandbox"), dict) else None) or registry.default()
    rehearsed = [n for n in registry.names() if registry.spec(n).sandbox_config]
    if target not in rehearsed:
        raise ConfigError(f"{'unknown target' if target not in registry.TARGETS else 'no sandbox for the target'} "
                          f"{target!r}", where="--target", hint="one of: " + ", ".join(rehearsed))
    if isinstance(data.get("sandbox"), dict) and data.get("target", registry.default()) == target:
        config, project = given, f"{given.migrate.project}-demo"
    else:
        config = Config(project_location=str(root), runtime_path=str(root / registry.spec(target).sandbox_config))
        project = "xiaozhi-demo"
        config.load_collection(defaults.load())
        config.load_project()
        config.load_runtime()
    config.migrate.project = project
    config.migrate.deploy_dir = str(root / ".sandbox" / ("demo" if target == registry.default() else f"demo-{target}"))
    loaded = cfg.load(config)
    # Three health runs are enough history for the stage-3 gate in a demo that lasts a minute.
    return config, dataclasses.replace(loaded, gates=dataclasses.replace(loaded.gates, history_records=3))


def refuse_on_a_real_stack(settings: Settings, client) -> None:
    """The demo's stack names its local model's container as production does (xiaozhi-local-llm)
    and publishes its port (11434): on a host where either belongs to something else (the real
    stack, an Ollama on the host) it stops before building or starting anything."""
    for name in _sandbox(settings).containers(settings):
        other = docker_api.inspect_or_none(client, name)
        project = docker_api.labels_of(other).get(compose.PROJECT_LABEL) if other is not None else None
        if other is not None and project != settings.project:
            raise Refused(f"the container {name} belongs to "
                          f"{'the Compose project ' + project if project else 'no Compose project'}, not the demo's "
                          f"{settings.project}: this host runs a real stack", where=name,
                          hint="run the demo on a machine of its own (or a VM); nothing was changed")
    found = docker_api.inspect_or_none(client, settings.local_llm.container)
    port = settings.local_llm.service.publish
    if port and found is None:
        with socket.socket() as probe:
            probe.settimeout(1)
            taken = probe.connect_ex((settings.bind, port)) == 0
        if taken:
            raise Refused(f"port {port} on {settings.bind} is taken by something that is not the demo's (an Ollama "
                          "on this host?)", where=f"{settings.bind}:{port}",
                          hint="run the demo on a machine of its own, or stop what listens there; nothing was changed")


def run(config, settings: Settings, *, keep: bool = False, requests: int = 200, out=print) -> list[str]:
    report: list[str] = []
    started = time.monotonic()
    refuse_on_a_real_stack(settings, docker_api.client())
    try:
        out("== building the sandbox images (if needed) and bringing the stack up at stage 0")
        sandbox_stack.up(config, settings, out=out)
        if _sandbox(settings).ADOPTS_FIRST:   # their stack as found: stage 0 adopts it
            out("== invoke phase --stage 0 (adopts the server as found)")
            move.phase(settings, 0, yes=True, out=out)
        _health(settings, report, out)
        for stage in (1, 2):
            out(f"== invoke phase --stage {stage}")
            outcome = move.phase(settings, stage, yes=True, out=out)
            report.append(f"stage {stage}: gates " + ", ".join(f"{g.name} {'passed' if g.passed else 'FAILED'}"
                                                               for g in outcome.gates))
            _health(settings, report, out)
            split = observed_split(settings, requests)
            report.append(f"  {requests} chats through {front(settings)[3]} reached local {split['local']} / API "
                          f"{split['api']} ({split['api'] / max(requests, 1):.0%} API), {split['errors']} errors; "
                          f"configured {settings.stage(stage).weights}")
        for _ in range(settings.gates.history_records - 1):  # the stage-3 gate reads recent history
            _health(settings, [], lambda *_: None)
        out("== invoke phase --stage 3 (then the local LLM is decommissioned)")
        outcome = move.phase(settings, 3, yes=True, out=out)
        report.append("stage 3: gates " + ", ".join(f"{g.name} {'passed' if g.passed else 'FAILED'}"
                                                    for g in outcome.gates))
        done = [e for e in state.audit_tail(settings.deploy_dir, 50) if e["event"] == "decommission-done"]
        if done:
            d = done[-1]
            report.append(f"  decommissioned: {d['bytes_freed'] / 1e9:.2f} GB of model files freed, "
                          f"memory available {d['mem_freed'] / 2 ** 20:+.0f} MB, disk free {d['disk_freed'] / 1e9:+.2f} GB"
                          " (the sandbox's weight files are sparse and its emulator holds no model in memory, "
                          "so the host's figures barely move; on a real host they are the 4-5 GB the seed names)")
        split = observed_split(settings, requests)
        report.append(f"  {requests} chats reached local {split['local']} / API {split['api']}, "
                      f"{split['errors']} errors; configured {settings.stage(3).weights}")
        _health(settings, report, out)
        report += _sandbox(settings).report_lines(settings)   # what the target's own moves cost
    finally:
        if not keep:
            out("== tearing the sandbox down (--keep leaves it up)")
            sandbox_stack.down(settings, out=out)
    report.append(f"demo finished in {time.monotonic() - started:.0f} s")
    return report


def _health(settings: Settings, report: list[str], out) -> None:
    text, code = health_command.health(settings)
    out(text)
    first = text.splitlines()[0]
    report.append(f"  health: {first}")
    if code == 2:
        raise VerifyFailed("health is CRITICAL during the demo", detail=text)
