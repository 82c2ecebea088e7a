"""The upstream xiaozhi-esp32-server (``migrate.target: xiaozhi-server``), whose one LLM is
picked in data/.config.yaml; a weighted split needs a router in front of it (the LiteLLM
proxy). Light on purpose: core/registry.py reads SPEC from here."""
from __future__ import annotations

from core.registry import KeyPlace, TargetSpec
from targets.xiaozhi_server import settings
import yaml


def _deployed_key(text: str) -> str:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return ""
    entry = ((data or {}).get("LLM") or {}).get(settings.API_ENTRY) if isinstance(data, dict) else None
    value = entry.get("api_key") if isinstance(entry, dict) else None
    return value if isinstance(value, str) else ""


SPEC = TargetSpec(
    name="xiaozhi-server",
    summary="the upstream xiaozhi-esp32-server, its LLM picked in data/.config.yaml",
    implementation="targets.xiaozhi_server.target:XiaozhiServer",
    key_place=KeyPlace(settings.CONFIG_FILE, _deployed_key),
    section=settings.SECTION,
    settings=settings.read,
    host_ollama=True,
    review="targets.xiaozhi_server.review:expected",
    sandbox_steps="targets.xiaozhi_server.sandbox",
    sandbox_config="sandbox-xiaozhi.yaml",
    tasks="targets.xiaozhi_server.tasks:router",
)
