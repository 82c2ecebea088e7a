"""A stage's files for the xiaozhi-server target (pure): the user's data/.config.yaml as the stage
makes it (stages.py), and at the split stage the router beside the server, added as a Compose
override next to their docker-compose.yml (never by editing it) with its config and its env
file (the key and the master key: mode 0600). At the other stages the override declares nothing
and the router's files are gone."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from core import envfile
from core.config import Stage
from core.errors import ConfigError
from xiaozhi_server import router, stages

CONFIG_FILE = "data/.config.yaml"
OVERRIDE_FILE = "docker-compose.migrate.yml"
ROUTER_CONFIG = "litellm.yaml"
ROUTER_ENV = "router.env"
SECRET_FILES = {CONFIG_FILE, ROUTER_ENV}       # hold the key (their config file already held theirs)
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@dataclass(frozen=True)
class ServerSettings:
    local_entry: str = "OllamaLLM"                # their entry for the local model: never written
    router_service: str = "xiaozhi-router"        # the router's Compose service (and host name)
    router_image: str = "xiaozhi-litellm:1.108.7"
    router_port: int = router.PORT

    def __post_init__(self):
        for name in ("local_entry", "router_service"):
            if not _NAME.match(getattr(self, name)):
                raise ConfigError(f"invalid name {getattr(self, name)!r}", where=f"migrate.xiaozhi_server.{name}",
                                  hint="letters, digits, '.', '_' and '-'")

    @property
    def router_url(self) -> str:
        return f"http://{self.router_service}:{self.router_port}/v1"


def render(config_text: str, stage: Stage, server: ServerSettings, spec: router.RouterSpec, api: dict,
           key: str, master_key: str, retargeted: tuple[str, ...] = ()) -> tuple[dict[str, str | None], stages.Edited]:
    """{file: text, or None when the stage has no such file} and the config file's edit (its
    changes in words, the references it moved)."""
    split = stage.number == stages.SPLIT
    entries = stages.Entries(local=server.local_entry, api={**api, "api_key": key},
                             router_url=server.router_url, router_key=master_key)
    edited = stages.render(config_text, stage.number, entries, retargeted)
    files: dict[str, str | None] = {CONFIG_FILE: edited.text, OVERRIDE_FILE: override(stage, server, split),
                                    ROUTER_CONFIG: None, ROUTER_ENV: None}
    if split:
        files[ROUTER_CONFIG] = router.render(spec, {"local": stage.local_weight, "qwen": stage.qwen_weight})
        files[ROUTER_ENV] = (f"{router.KEY_VARIABLE}={envfile.quote(key)}\n"
                             f"{router.MASTER_KEY_VARIABLE}={envfile.quote(master_key)}\n")
    return files, edited


def override(stage: Stage, server: ServerSettings, split: bool) -> str:
    head = (f"# Rendered by the migration toolkit for stage {stage.number} ({stage.name}); do not edit by hand.\n"
            "# Compose merges it over your docker-compose.yml, which the toolkit never writes.\n")
    if not split:
        return head + "services: {}\n"
    port = server.router_port
    health = ["CMD", "python3", "-c", f"import urllib.request as u; u.urlopen('http://127.0.0.1:{port}"
                                      "/health/readiness', timeout=3)"]
    service = {"image": server.router_image, "command": ["--config", "/etc/litellm/config.yaml", "--port", str(port)],
               "env_file": [ROUTER_ENV], "volumes": [f"./{ROUTER_CONFIG}:/etc/litellm/config.yaml:ro"],
               "healthcheck": {"test": health, "interval": "5s", "timeout": "3s", "retries": 24},
               "restart": "unless-stopped"}
    # JSON is YAML: every value quoted the one way, whatever it holds.
    return head + "services:\n  " + json.dumps(server.router_service) + ": " + json.dumps(service, ensure_ascii=False) + "\n"
