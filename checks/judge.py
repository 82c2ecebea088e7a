"""What the observed facts mean at a stage. Pure: (stage, facts, thresholds) -> results.

Stages that keep the local LLM need it to serve; the cut-over stage needs port 11434 closed and
the container gone (a listener left there is memory not freed: a WARNING)."""
from __future__ import annotations

import dataclasses

from checks.facts import Api, Container, Generation, Host, LocalLLM, Port, Stack
from checks.model import Result, Status
from core.config import STACK_SERVICES, Health, Stage
from core.services import STACK, WEIGHTS_VARIABLE

MB, GB = 1024 ** 2, 1024 ** 3


def _latency(name, facts: Generation | None, warn_ms, crit_ms, what) -> Result:
    expected = f"first token < {warn_ms:.0f} ms"
    if facts is not None and facts.error:
        return Result(name, Status.CRITICAL, expected, f"{what} failed: {facts.error} {facts.detail}".strip())
    if facts is None or facts.first_token_s is None:
        return Result(name, Status.UNKNOWN, expected, "not measured")
    ms = facts.first_token_s * 1000
    status = Status.OK if ms < warn_ms else Status.WARNING if ms < crit_ms else Status.CRITICAL
    word = "" if status is Status.OK else " (slow)"
    return Result(name, status, expected, f"{ms:.0f} ms{word}", metrics={"first_token_seconds": ms / 1000})


def local_llm(stage: Stage, port: Port, facts: LocalLLM, limits: Health, light: bool,
              on_host: bool = False) -> list[Result]:
    where = f"{port.host}:{port.port}"
    if not stage.local_llm and on_host and port.open:
        # The operator's own Ollama on the host may serve other models: only ours still held counts.
        if facts.error is None and facts.model_present is False:
            return [Result("local.port", Status.OK, f"{facts.model} gone from {where}",
                           f"the host's Ollama answers without {facts.model}")]
        if facts.error is not None:
            return [Result("local.port", Status.WARNING, f"{facts.model} gone from {where}",
                           f"{where} listening, but its Ollama API cannot tell whether {facts.model} is still "
                           f"held: {facts.error} {facts.detail or ''}".strip())]
        return [Result("local.port", Status.WARNING, f"{facts.model} gone from {where}",
                       f"the host's Ollama still holds {facts.model}: nothing routes to it; `invoke decommission` "
                       "says how to free it (the toolkit does not stop an Ollama it did not deploy)")]
    if not stage.local_llm:
        if port.open:
            return [Result("local.port", Status.WARNING, f"{where} closed",
                           f"{where} still listening: the local model's memory is not freed "
                           "(run `invoke decommission`)")]
        return [Result("local.port", Status.OK, f"{where} closed", "closed")]
    results = [Result("local.port", Status.OK if port.open else Status.CRITICAL, f"{where} listening",
                      "listening" if port.open else f"not listening ({port.error})")]
    if not port.open:
        return results
    if facts.error:
        results.append(Result("local.model", Status.CRITICAL, f"{facts.model} listed",
                              f"Ollama API failed: {facts.error} {facts.detail}".strip()))
        return results
    present = facts.model_present
    results.append(Result("local.model", Status.OK if present else Status.CRITICAL, f"{facts.model} listed",
                          f"listed (Ollama {facts.version})" if present else "model missing"))
    if present and not light:
        results.append(_latency("local.generate", facts.generation, limits.local_warn_ms, limits.local_crit_ms,
                                "generate"))
    return results


AUTH_WORDS = {"bad_key": "401: the key is refused", "throttled": "429: throttled",
              "server_error": "5xx from the API", "timeout": "timed out", "dns": "DNS lookup failed",
              "refused": "connection refused", "tls": "TLS handshake failed", "protocol": "garbled HTTP answer",
              "http": "unexpected HTTP status", "error": "failed"}


def api(stage: Stage, facts: Api, limits: Health, light: bool) -> list[Result]:
    auth = facts.auth
    expected = "key accepted"
    if auth == "no_key":
        status = Status.CRITICAL if stage.requires_key else Status.WARNING
        actual = facts.detail or "no key: set QWEN_API_KEY or DASHSCOPE_API_KEY"
        return [Result("api.auth", status, expected, actual)]
    # A stage that sends the API nothing (the outage stage: every chat local) is not broken by an
    # API that fails: that is why it is there. Said, as a WARNING.
    if auth != "ok":
        status = Status.WARNING if auth == "throttled" or not stage.uses_api else Status.CRITICAL
        detail = f"{AUTH_WORDS.get(auth, auth)} {facts.detail}".strip()
        return [Result("api.auth", status, expected, detail)]
    results = [Result("api.auth", Status.OK, expected, "accepted")]
    if not light:
        generate = _latency("api.generate", facts.generation, limits.api_warn_ms, limits.api_crit_ms, "completion")
        if not stage.uses_api and generate.status is Status.CRITICAL:
            generate = dataclasses.replace(generate, status=Status.WARNING)
        results.append(generate)
    return results


def integrity(local: LocalLLM, stack: Stack, llm) -> Result:
    """The local model whole: manifest and blobs in the store (read from the host), and Ollama's
    /api/show answering with its template. Damage names the repair."""
    expected = "manifest, blobs and template whole"
    repair = (f"repair: `ollama pull {llm.model}` on this host" if llm.on_host else
              f"repair: `invoke decommission.restore` if a quarantined copy exists, "
              f"else `docker exec {llm.container} ollama pull {llm.model}`")
    found = stack.integrity
    if isinstance(found, list) and found:
        return Result("local.integrity", Status.CRITICAL, expected, "; ".join(found[:3])
                      + (f" (+{len(found) - 3} more)" if len(found) > 3 else "") + f"; {repair}")
    if local.template is False:
        return Result("local.integrity", Status.CRITICAL, expected,
                      f"/api/show answers no template for {llm.model}; {repair}")
    if found is None and llm.on_host and local.template:
        return Result("local.integrity", Status.OK, expected, "template answered (the host's store is not "
                      "read: set migrate.local_llm.store_host_path to check its files too)")
    if isinstance(found, str) or found is None:
        return Result("local.integrity", Status.UNKNOWN, expected,
                      found or "the model store was not found from here (is the container running?)")
    return Result("local.integrity", Status.OK, expected, "whole" if local.template else "files whole")


def _running(info: Container | None) -> bool:
    return info is not None and info.running


def containers(stage: Stage, facts: Stack, local_name: str) -> list[Result]:
    if facts.engine != "ok":
        return [Result("containers", Status.UNKNOWN, "engine reachable", facts.detail or "unreachable")]
    results = []
    for service in STACK_SERVICES:
        info = facts.services.get(service)
        results.append(Result(f"container.{service}", Status.OK if _running(info) else Status.CRITICAL,
                              "running, healthy", info.words if info else "absent"))
    return results + local_container(stage, facts, local_name)


def local_container(stage: Stage, facts: Stack, local_name: str) -> list[Result]:
    """The local LLM's container: serving at stages that keep it, gone at the others."""
    if facts.engine != "ok":
        return []
    local = facts.local_container
    if stage.local_llm:
        return [Result(f"container.{local_name}", Status.OK if _running(local) else Status.CRITICAL,
                       "running, healthy", local.words if local else "absent")]
    return [Result(f"container.{local_name}", Status.WARNING if local else Status.OK, "removed",
                   f"left over ({local.state}): run `invoke decommission`" if local else "removed")]


def orphans(facts: Stack) -> list[Result]:
    """Compose's orphans: containers of the project that no declared service owns."""
    if facts.engine != "ok" or facts.orphans is None:
        return []
    if isinstance(facts.orphans, str):
        return [Result("compose.orphans", Status.UNKNOWN, "none", facts.orphans)]
    return [Result("compose.orphans", Status.WARNING if facts.orphans else Status.OK, "none",
                   ", ".join(facts.orphans) + ": declared by no service; remove or declare them"
                   if facts.orphans else "none")]


def expected_env(stage: Stage) -> dict[str, dict[str, str]]:
    """Each service's drift variables as the stage sets them (core/services.py)."""
    return {s.name: {**({WEIGHTS_VARIABLE: stage.weights} if s.reads_weights else {}),
                     s.limit_variable: str(stage.limits[s.limit])} for s in STACK}


def drift_of(stage: Stage, envs: dict[str, dict[str, str]]) -> list[str]:
    """Each running variable that differs from the stage, as 'service VAR=actual (want X)'.
    ``envs``: each service's observed drift variables."""
    found = []
    for service, wanted in expected_env(stage).items():
        env = envs.get(service) or {}
        for key, value in wanted.items():
            if env.get(key) != value:
                found.append(f"{service} {key}={env.get(key, '<unset>')} (want {value})")
    return found


def drift(stage: Stage, facts: Stack) -> Result:
    if facts.engine != "ok":
        return Result("drift", Status.UNKNOWN, f"stage {stage.number} environment", "engine unreachable")
    found = drift_of(stage, {name: c.env for name, c in facts.services.items()})
    return Result("drift", Status.WARNING if found else Status.OK, f"stage {stage.number} environment",
                  "; ".join(found) if found else "matches")


def host(facts: Host, limits: Health) -> Result:
    notes, status = [], Status.OK
    avail_mb = facts.mem_available / MB
    if avail_mb < limits.mem_available_warn_mb:
        status = Status.WARNING
        notes.append(f"only {avail_mb:.0f} MB memory available")
    free_gb = facts.disk_free / GB
    if free_gb < limits.disk_free_warn_gb:
        status = Status.WARNING
        notes.append(f"only {free_gb:.1f} GB free at {facts.disk_path}")
    listener = facts.listener
    summary = (f"mem {avail_mb:.0f}/{facts.mem_total / MB:.0f} MB free, load {facts.load1:.2f}"
               f"/{facts.cpus} cpus, disk {free_gb:.1f} GB free, 11434: "
               + (f"{listener['process']} (pid {listener['pid']})" if listener else "nobody"))
    if facts.local_model_rss:
        summary += f", local model {facts.local_model_rss / MB:.0f} MB"
    metrics = {"mem_available_bytes": facts.mem_available, "disk_free_bytes": facts.disk_free,
               "load1": facts.load1}
    if facts.local_model_rss is not None:
        metrics["local_model_rss_bytes"] = facts.local_model_rss
    return Result("host", status, "resources to spare", "; ".join(notes + [summary]), metrics=metrics)
