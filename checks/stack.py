"""Facts about the running stack, read from the Docker engine: each service's container state
and health, the local LLM container, and the few environment variables drift is judged on.
Only those variables are kept: a container's full environment holds the API key."""
from __future__ import annotations

import hashlib
import os

from adapters import compose, docker_api
from checks.facts import Container, Stack
from core.config import Settings
from core.services import STACK
from core.errors import DockerError
import yaml
from core import composefile
from core.files import read_text

DRIFT_VARIABLES = {s.name: s.drift_variables for s in STACK}


def drift_env(attrs: dict, service: str) -> dict:
    """The variables drift is judged on for this service, from `docker inspect` data; nothing
    else of the environment is kept (it holds the API key)."""
    names = DRIFT_VARIABLES.get(service, ())
    return {k: v for k, v in _env_pairs(attrs) if k in names}


def _env_pairs(attrs: dict):
    """(NAME, value) of each variable in `docker inspect` data."""
    return (item.split("=", 1) for item in attrs["Config"].get("Env") or [] if "=" in item)


def env_digests(attrs: dict) -> dict[str, str]:
    """Every variable of a container's environment as a digest of its value: what the plan
    compares with the rendered stage, without holding or showing any value (one is the key)."""
    return {k: value_digest(v) for k, v in _env_pairs(attrs)}


def value_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def describe(attrs: dict) -> dict:
    """State, health, start time and pid of a container, from `docker inspect` data."""
    state = attrs["State"]
    return {"container": docker_api.name_of(attrs), "state": state.get("Status"),
            "health": (state.get("Health") or {}).get("Status"), "started_at": state.get("StartedAt"),
            "pid": state.get("Pid") or None}


def container(attrs: dict, service: str = "") -> Container:
    return Container(**describe(attrs), env=drift_env(attrs, service))


def store_source(settings: Settings, attrs: dict | None) -> str | None:
    """Where the local model's store is on the host: the source of the container's mount of the
    store (a volume or a bind mount), else the configured bind path; None when unknown."""
    ll = settings.local_llm
    inside = os.path.relpath(ll.store_path, ll.store_mount)
    for mount in (attrs or {}).get("Mounts") or []:
        if mount.get("Destination") == ll.store_mount and mount.get("Source"):
            return os.path.normpath(os.path.join(mount["Source"], inside))
    if ll.store_host_path:
        return ll.store_host_path
    if ll.store_is_path:
        return os.path.normpath(os.path.join(os.path.abspath(settings.deploy_dir), ll.store_volume, inside))
    return None


async def containers(settings: Settings, timeout: float) -> Stack:
    from adapters.dockerd import Engine  # httpx with it: imported in the probes' thread
    try:
        async with Engine(timeout) as engine:
            found = await engine.containers(compose.labels(settings.project))
            # An Ollama on the host has no container: one of that name is not ours to judge.
            local = None if settings.local_llm.on_host else await engine.inspect(settings.local_llm.container)
    except DockerError as exc:
        return Stack("unreachable", detail=exc.what)
    services: dict[str, Container] = {}
    roles = {name: role for role, name in settings.compose_names.items()}
    labelled = {}
    for attrs in found:
        service = docker_api.labels_of(attrs).get(compose.SERVICE_LABEL, "")
        labelled[docker_api.name_of(attrs)] = service
        role = roles.get(service)
        if role in DRIFT_VARIABLES:
            services[role] = container(attrs, role)
    return Stack("ok", services=services, local_container=container(local) if local else None,
                 store=store_source(settings, local), orphans=orphans(settings, labelled))


def orphans(settings: Settings, labelled: dict[str, str]) -> list[str] | str | None:
    """The project's containers whose service neither the operator's file nor the override
    declares (Compose's orphans), as 'container (service S)'; None when nothing is deployed."""
    try:
        base = read_text(settings.deploy_dir / compose.BASE_FILE)
        if base is None:
            return None
        declared = composefile.declared(base, read_text(settings.deploy_dir / compose.OVERRIDE_FILE))
    except (OSError, ValueError, yaml.YAMLError) as exc:  # an unreadable file must not stop the other checks
        return f"cannot read the compose files: {exc}"
    return sorted(f"{name} (service {service})" for name, service in labelled.items() if service not in declared)
