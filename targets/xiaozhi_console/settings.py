"""``migrate.xiaozhi_console``: this target's own settings, validated with config's rules
(core/registry.py's TargetSpec.settings names ``read``)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from core import config
from core.errors import ConfigError, shown
from litellm_router import TAG as ROUTER_IMAGE
from targets.xiaozhi_console import SECTION

_MODEL_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")      # ai_model_config.id is VARCHAR(32)
_AGENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
SPLITS = ("agents", "requests")


@dataclass(frozen=True)
class Console:
    """How the toolkit reaches the deployment: the containers (by upstream's names), manager-api
    and the server as this host reaches them; MySQL and Redis at their containers' addresses on
    the project's network unless given; credentials from the containers' environment unless an
    owner-only file gives them."""
    server_container: str = "xiaozhi-esp32-server"
    web_container: str = "xiaozhi-esp32-server-web"
    db_container: str = "xiaozhi-esp32-server-db"
    redis_container: str = "xiaozhi-esp32-server-redis"
    manager_url: str = "http://127.0.0.1:8002/xiaozhi"   # manager-api, as this host reaches it
    http_url: str = "http://127.0.0.1:8000"              # the server's port 8000, likewise
    database: str = "xiaozhi_esp32_server"
    db_host: str = ""          # '' : the database container's address
    db_port: int = 3306
    redis_host: str = ""       # '' : the Redis container's address
    redis_port: int = 6379
    credentials_file: str = ""  # owner-only YAML: mysql_user, mysql_password, redis_password
    local_model: str = "LLM_OllamaLLM"      # their model config of the local Ollama (never deleted)
    api_model: str = "LLM_MigrateApiLLM"    # the API's model config (the toolkit's own row)
    agents: tuple[str, ...] = ()           # () : every agent on the local model
    split: str = "requests"                # stage 2: every chat through the router (or "agents": a share of them)
    router_model: str = "LLM_MigrateRouterLLM"   # the router's model config (the toolkit's own row, stage 2)
    router_service: str = "xiaozhi-router"   # the router's Compose service (and host name on the network)
    router_image: str = ROUTER_IMAGE
    router_port: int = 4000
    sample_devices: int = 5                 # devices asked for their models after each move
    verify_timeout: int = 30                # seconds for manager-api to answer the samples

    @property
    def router_url(self) -> str:
        """The router as the server reaches it, on the project's network."""
        return f"http://{self.router_service}:{self.router_port}/v1"


def read(data, where: str) -> Console:
    """The section as this target runs with it; a bad value is a ConfigError naming its key."""
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping", where=where, hint="e.g. {manager_url: http://127.0.0.1:8002/xiaozhi}")
    config.known(data, tuple(Console.__dataclass_fields__), where)
    values: dict[str, Any] = {}
    for name in ("server_container", "web_container", "db_container", "redis_container"):
        if name in data:
            values[name] = config.text(data, name, where, config.SERVICE_NAME, "a container name")
    for name in ("manager_url", "http_url"):
        if name in data:
            values[name] = config.url(data, name, where)
    if "database" in data:
        values["database"] = config.text(data, "database", where, re.compile(r"^[A-Za-z0-9_]{1,64}$"),
                                         "a database name (letters, digits, _)")
    for name in ("db_host", "redis_host"):
        if name in data:
            values[name] = config.text(data, name, where, _HOST, "a host name or address")
    for name in ("db_port", "redis_port"):
        if name in data:
            values[name] = config.integer(data, name, where, 1, 65535)
    if "credentials_file" in data:
        values["credentials_file"] = config.text(data, "credentials_file", where, re.compile(r"^\S+$"),
                                                 "the path of an owner-only YAML file")
    for name in ("local_model", "api_model", "router_model"):
        if name in data:
            values[name] = config.text(data, name, where, _MODEL_ID, "an ai_model_config id, e.g. LLM_OllamaLLM")
    if "agents" in data:
        values["agents"] = _agents(data["agents"], f"{where}.agents")
    if "router_service" in data:
        values["router_service"] = config.text(data, "router_service", where, config.SERVICE_NAME, "a service name")
    if "router_image" in data:
        values["router_image"] = config.text(data, "router_image", where, re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_./:@-]*$"),
                                             f"an image reference, e.g. {ROUTER_IMAGE}")
    if "router_port" in data:
        values["router_port"] = config.integer(data, "router_port", where, 1, 65535)
    if "split" in data:
        if data["split"] not in SPLITS:
            raise ConfigError(f"unknown split {shown(data['split'])}",
                              where=f"{where}.split", hint="agents (a share of the agents on the API model) or requests (a router)")
        values["split"] = data["split"]
    if "sample_devices" in data:
        values["sample_devices"] = config.integer(data, "sample_devices", where, 1, 1000)
    if "verify_timeout" in data:
        values["verify_timeout"] = config.integer(data, "verify_timeout", where, 1, 3600)
    found = Console(**values)
    if len({found.api_model, found.local_model, found.router_model}) < 3:
        raise ConfigError("local_model, api_model and router_model must be three rows", where=f"{where}.api_model",
                          hint="leave api_model and router_model out (the toolkit's own rows)")
    return found


def _agents(value, where: str) -> tuple[str, ...]:
    if value in ("local", None):
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and _AGENT_ID.match(v) for v in value):
        raise ConfigError("expected `local` or a list of agent ids (ai_agent.id)", where=where,
                          hint="e.g. agents: local (every agent on the local model)")
    return tuple(value)


def own(settings) -> Console:
    """This target's section of the settings (config validates every target's, whichever runs)."""
    return settings.sections[SECTION]
