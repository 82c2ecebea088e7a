"""The router of the split stage (``split: requests``): the LiteLLM proxy (litellm_router/) beside
the server, in a Compose override of the toolkit's own (their docker-compose.yml is never
written), and a model config of the toolkit's own that points at it. Each chat of a moved agent
goes through the router, which weighs local and API per request. Pure: files and the row, from
the settings, the stage and the keys."""
from __future__ import annotations

import json

from adapters import compose
from core import envfile
from core.config import Settings, Stage
from litellm_router import router
from targets.xiaozhi_console.settings import own

OVERRIDE = compose.OVERRIDE_FILE     # docker-compose.migrate.yml: the router's service, the toolkit's
CONFIG = "litellm.yaml"
ENV = "router.env"                   # the API key and the master key: 0600
FILES = (OVERRIDE, CONFIG, ENV)
SECRET_FILES = {ENV}


def routes(settings: Settings, stage: Stage) -> bool:
    """Whether the stage sends the moved agents through the router."""
    return stage.number == 2 and own(settings).split == "requests"


def spec(settings: Settings) -> router.RouterSpec:
    ll, api = settings.local_llm, settings.api
    return router.RouterSpec(local=router.Backend(ll.model, ll.url, ll.timeout),
                             api=router.Backend(api.model, api.base_url, api.timeout))


def master_key(settings: Settings, deployed: dict[str, str | None], row: dict | None) -> str:
    """The key the server sends the router: derived from the API key; without one (cron, status),
    the deployed one (the router's environment file, else the router's model config)."""
    derived = router.master_key_for(settings.api_key)
    if derived:
        return derived
    found = envfile.parse(deployed.get(ENV) or "").get(router.MASTER_KEY_VARIABLE)
    if not found and row is not None:
        try:
            found = json.loads(row.get("config_json") or "{}").get("api_key")
        except ValueError:
            found = ""
    return found if isinstance(found, str) else ""


def files(settings: Settings, stage: Stage, key: str, master: str) -> dict[str, str | None]:
    """The stage's router files (None: the stage has none)."""
    if not routes(settings, stage):
        return {name: None for name in FILES}
    return {OVERRIDE: override(settings, stage), ENV: router.env_file(key, master),
            CONFIG: router.render(spec(settings), {"local": stage.local_weight, "qwen": stage.qwen_weight})}


def override(settings: Settings, stage: Stage) -> str:
    cs = own(settings)
    health = ["CMD", "python3", "-c", f"import urllib.request as u; u.urlopen('http://127.0.0.1:{cs.router_port}"
                                      "/health/readiness', timeout=3)"]
    block = {"image": cs.router_image, "command": ["--config", "/etc/litellm/config.yaml", "--port", str(cs.router_port)],
             "env_file": [ENV], "volumes": [f"./{CONFIG}:/etc/litellm/config.yaml:ro"],
             "healthcheck": {"test": health, "interval": "5s", "timeout": "3s", "retries": 24},
             "restart": "unless-stopped"}
    # JSON is YAML: every value quoted the one way, whatever it holds.
    return (f"# Rendered by the migration toolkit for stage {stage.number} ({stage.name}); do not edit by hand.\n"
            "# The router of the split, beside your docker-compose.yml (which the toolkit never writes); the\n"
            f"# model config {cs.router_model} points the moved agents at it. Gone at every other stage.\n"
            f"services:\n  {json.dumps(cs.router_service)}: {json.dumps(block, ensure_ascii=False)}\n")


def row(settings: Settings, skeleton: dict, master: str, stage: Stage) -> dict:
    """The router's model config: upstream's openai provider at the router, the group as its model."""
    cs = own(settings)
    config = {"type": "openai", "base_url": cs.router_url, "model_name": router.GROUP, "api_key": master}
    return {**skeleton, "id": cs.router_model, "model_type": "LLM", "model_code": "MigrateRouterLLM",
            "model_name": f"LiteLLM 路由 (本地 {stage.local_weight} / API {stage.qwen_weight})", "is_enabled": 1,
            "is_default": 0, "sort": 0, "config_json": json.dumps(config, ensure_ascii=False),
            "remark": "added by the xiaozhi LLM migration toolkit at stage 2; removed at every other stage"}


def argv(settings: Settings) -> list[str]:
    """Compose with their file and the toolkit's override (the router's service)."""
    return compose.argv(settings.project, settings.deploy_dir)
