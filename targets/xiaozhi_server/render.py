"""A stage's files for the xiaozhi-server target (pure): the user's data/.config.yaml as the stage
makes it (stages.py), and at the split stage the router beside the server, added as a Compose
override next to their docker-compose.yml (never by editing it) with its config and its env
file (the key and the master key: mode 0600). At the other stages the override declares nothing
and the router's files are gone."""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from adapters.compose import OFF_PROFILE
from targets.xiaozhi_server import CONFIG_FILE
from core.config import Settings, Stage
from litellm_router import router
from targets.xiaozhi_server import stages
from targets.xiaozhi_server.settings import XiaozhiServer, own

OVERRIDE_FILE = "docker-compose.migrate.yml"
ROUTER_CONFIG = "litellm.yaml"
ROUTER_ENV = "router.env"
SECRET_FILES = {CONFIG_FILE, ROUTER_ENV}       # hold the key: 0600 (their config file: tightened, plan.py)


def router_spec(settings: Settings) -> router.RouterSpec:
    """The two deployments as the router reaches them (the stack's URLs, not the probes')."""
    ll, api = settings.local_llm, settings.api
    return router.RouterSpec(local=router.Backend(ll.model, ll.url, ll.timeout),
                             api=router.Backend(api.model, api.base_url, api.timeout))


def for_stage(settings: Settings, stage: Stage, config_text: str, master_key: str, *, key: str,
              retargeted: tuple[str, ...] = (), local: LocalService | None = None
              ) -> tuple[dict[str, str | None], stages.Edited]:
    """The stage's files from settings: the API entry speaks to ``api.base_url`` with ``key``."""
    api = {"type": "openai", "base_url": settings.api.base_url, "model_name": settings.api.model}
    return render(config_text, stage, own(settings), router_spec(settings), api, key, master_key,
                  retargeted, local, host_gateway=urlsplit(settings.local_llm.url).hostname == HOST_GATEWAY)


HOST_GATEWAY = "host.docker.internal"  # the host, from a container, once mapped to Docker's host-gateway


@dataclass(frozen=True)
class LocalService:
    """The local model's service in their docker-compose.yml, and the services that depend on it:
    at the cut-over it leaves the model (a profile never activated) and their depends_on stops
    binding, so that their own `docker compose up` does not bring it back."""
    name: str
    dependents: tuple[str, ...] = ()


def local_service(base_services: dict[str, dict], container: str, name: str) -> LocalService | None:
    """Their service running ``container`` (or named ``name``); None when the model runs elsewhere."""
    found = next((n for n, block in base_services.items() if block.get("container_name") == container),
                 name if name in base_services else None)
    if found is None:
        return None
    def needs(block: dict) -> bool:
        depends = block.get("depends_on") or {}
        return found in (depends if isinstance(depends, (list, dict)) else ())
    return LocalService(found, tuple(sorted(n for n, block in base_services.items() if needs(block))))


def render(config_text: str, stage: Stage, server: XiaozhiServer, spec: router.RouterSpec, api: dict,
           key: str, master_key: str, retargeted: tuple[str, ...] = (), local: LocalService | None = None,
           host_gateway: bool = False) -> tuple[dict[str, str | None], stages.Edited]:
    """{file: text, or None when the stage has no such file} and the config file's edit (its
    changes in words, the references it moved)."""
    split = stage.number == stages.SPLIT
    entries = stages.Entries(local=server.local_entry, api={**api, "api_key": key},
                             router_url=server.router_url, router_key=master_key)
    edited = stages.render(config_text, stage.number, entries, retargeted)
    files: dict[str, str | None] = {CONFIG_FILE: edited.text, OVERRIDE_FILE: override(stage, server, split, local,
                                                                                       host_gateway),
                                    ROUTER_CONFIG: None, ROUTER_ENV: None}
    if split:
        files[ROUTER_CONFIG] = router.render(spec, {"local": stage.local_weight, "qwen": stage.qwen_weight})
        files[ROUTER_ENV] = router.env_file(key, master_key)
    return files, edited


def override(stage: Stage, server: XiaozhiServer, split: bool, local: LocalService | None = None,
             host_gateway: bool = False) -> str:
    head = (f"# Rendered by the migration toolkit for stage {stage.number} ({stage.name}); do not edit by hand.\n"
            "# Compose merges it over your docker-compose.yml, which the toolkit never writes.\n")
    services: dict[str, dict] = {}
    if split:
        port = server.router_port
        health = ["CMD", "python3", "-c", f"import urllib.request as u; u.urlopen('http://127.0.0.1:{port}"
                                          "/health/readiness', timeout=3)"]
        services[server.router_service] = {
            "image": server.router_image, "command": ["--config", "/etc/litellm/config.yaml", "--port", str(port)],
            "env_file": [ROUTER_ENV], "volumes": [f"./{ROUTER_CONFIG}:/etc/litellm/config.yaml:ro"],
            "healthcheck": {"test": health, "interval": "5s", "timeout": "3s", "retries": 24},
            "restart": "unless-stopped"}
        if host_gateway:  # the local model is an Ollama on the host: the router reaches it by this name
            services[server.router_service]["extra_hosts"] = [f"{HOST_GATEWAY}:host-gateway"]
    if local is not None and not stage.local_llm:
        # Out of the model: a profile never activated; the container is left to the decommission.
        services[local.name] = {"profiles": [OFF_PROFILE]}
        for name in local.dependents:
            services[name] = {"depends_on": {local.name: {"required": False}}}
    if not services:
        return head + "services: {}\n"
    # JSON is YAML: every value quoted the one way, whatever it holds.
    return head + "services:\n" + "".join(f"  {json.dumps(name)}: {json.dumps(block, ensure_ascii=False)}\n"
                                           for name, block in services.items())
