"""``migrate.xiaozhi_server``: this target's own settings, validated with config's rules
(core/registry.py's TargetSpec.settings names ``read``), and the router image's tag."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from core import config
from core.errors import ConfigError
from litellm_router import TAG as ROUTER_IMAGE   # what `invoke router.build` builds
from targets.xiaozhi_server import SECTION



@dataclass(frozen=True)
class XiaozhiServer:
    """``migrate.xiaozhi_server``: the upstream xiaozhi-esp32-server (target ``xiaozhi-server``),
    whose folder (its docker-compose.yml and data/.config.yaml) is ``deploy_dir``."""
    container: str = "xiaozhi-esp32-server"
    http_url: str = "http://127.0.0.1:8000"               # port 8000 as this toolkit reaches it
    ota_url: str = "http://127.0.0.1:8003/xiaozhi/ota/"   # port 8003's OTA route, likewise
    local_entry: str = "OllamaLLM"                         # their entry for the local model: never written
    router_service: str = "xiaozhi-router"                 # the router's Compose service (and host name)
    router_image: str = ROUTER_IMAGE
    router_port: int = 4000
    restart_timeout: int = 120     # seconds for a restarted server to log its LLM and answer
    ws_port: int = 8000            # the server's websocket port inside its container (devices' conversations)

    @property
    def router_url(self) -> str:
        """The router as the server reaches it, on the project's network."""
        return f"http://{self.router_service}:{self.router_port}/v1"


def read(data, where: str) -> XiaozhiServer:
    """The section as this target runs with it; a bad value is a ConfigError naming its key."""
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping", where=where, hint="e.g. {container: xiaozhi-esp32-server}")
    config.known(data, tuple(XiaozhiServer.__dataclass_fields__), where)
    values: dict[str, Any] = {}
    for name in ("container", "router_service"):
        if name in data:
            values[name] = config.text(data, name, where, config.SERVICE_NAME, "letters, digits, '.', '_' and '-'")
    if "local_entry" in data:
        values["local_entry"] = config.text(data, "local_entry", where, config.SERVICE_NAME,
                                            "the name of your local model's entry under LLM: in data/.config.yaml")
    for name in ("http_url", "ota_url"):
        if name in data:
            values[name] = config.url(data, name, where) + ("/" if name == "ota_url" else "")
    if "router_image" in data:
        values["router_image"] = config.text(data, "router_image", where, re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_./:@-]*$"),
                                             f"an image reference, e.g. {ROUTER_IMAGE}")
    if "router_port" in data:
        values["router_port"] = config.integer(data, "router_port", where, 1, 65535)
    if "ws_port" in data:
        values["ws_port"] = config.integer(data, "ws_port", where, 1, 65535)
    if "restart_timeout" in data:
        values["restart_timeout"] = config.integer(data, "restart_timeout", where, 5, 3600)
    return XiaozhiServer(**values)


def own(settings) -> XiaozhiServer:
    """This target's section of the settings (config validates every target's, whichever runs)."""
    return settings.sections[SECTION]
