"""The upstream xiaozhi-esp32-server (``migrate.target: xiaozhi-server``), whose one LLM is
picked in data/.config.yaml; a weighted split needs a router in front of it (the LiteLLM
proxy). Light on purpose: core/registry.py reads SPEC from here."""
from __future__ import annotations

import yaml

from core.registry import KeyPlace, TargetSpec

SECTION = "xiaozhi_server"          # migrate.xiaozhi_server: this target's settings (settings.py)
CONFIG_FILE = "data/.config.yaml"   # their server's config; the API entry's key is deployed there
API_ENTRY = "MigrateApiLLM"          # the entry the toolkit adds under LLM: (cron finds the key in it)


def _deployed_key(text: str) -> str:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return ""
    entry = ((data or {}).get("LLM") or {}).get(API_ENTRY) if isinstance(data, dict) else None
    value = entry.get("api_key") if isinstance(entry, dict) else None
    return value if isinstance(value, str) else ""


SPEC = TargetSpec(
    name="xiaozhi-server",
    summary="the upstream xiaozhi-esp32-server, its LLM picked in data/.config.yaml",
    implementation="targets.xiaozhi_server.target:XiaozhiServer",
    key_place=KeyPlace(CONFIG_FILE, _deployed_key),
    section=SECTION,
    settings="targets.xiaozhi_server.settings:read",
    host_ollama=True,
    review="targets.xiaozhi_server.review:expected",
    sandbox_steps="targets.xiaozhi_server.sandbox",
    sandbox_config="sandbox-xiaozhi.yaml",
    tasks="targets.xiaozhi_server.tasks:router",
)
