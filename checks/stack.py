"""Facts about the running stack, read through the docker SDK: each service's container state
and health, the local LLM container, and the few environment variables drift is judged on.
Only those variables are kept: a container's full environment holds the API key."""
from __future__ import annotations

from toolkit.config import Settings

DRIFT_VARIABLES = {"llm-service": ("LLM_PROVIDER_WEIGHTS", "LLM_MAX_CONCURRENT"),
                   "vad": ("VAD_MAX_CONCURRENT",), "asr": ("ASR_MAX_CONCURRENT",),
                   "tts": ("TTS_MAX_CONCURRENT",)}


def _env(container, names) -> dict:
    pairs = (item.split("=", 1) for item in container.attrs["Config"].get("Env") or [] if "=" in item)
    return {k: v for k, v in pairs if k in names}


def _describe(container) -> dict:
    state = container.attrs["State"]
    return {"container": container.name, "state": state.get("Status"),
            "health": (state.get("Health") or {}).get("Status"), "started_at": state.get("StartedAt"),
            "pid": state.get("Pid") or None}


def containers(settings: Settings, client=None) -> dict:
    from toolkit import docker_api
    from toolkit.errors import DockerError
    try:
        client = client or docker_api.client()
    except DockerError as exc:
        return {"engine": "unreachable", "detail": exc.what}
    label = f"com.docker.compose.project={settings.project}"
    services: dict = {}
    for container in client.containers.list(all=True, filters={"label": label}):
        service = container.labels.get("com.docker.compose.service", "")
        if service in DRIFT_VARIABLES:
            services[service] = {**_describe(container), "env": _env(container, DRIFT_VARIABLES[service])}
    local = docker_api.container_or_none(client, settings.local_llm.container)
    return {"engine": "ok", "services": services, "local_container": _describe(local) if local else None}
