"""Upstream's full deployment run from its web console (``migrate.target: xiaozhi-console``):
xiaozhi-esp32-server asks manager-api for a device's models at every connection, and the LLM
each agent uses lives in MySQL (``ai_agent.llm_model_id``, ``ai_model_config``). A stage moves
rows, agent by agent, in one transaction, compare-and-swap, and deletes the model keys
manager-api caches in Redis: no container restarts. Light on purpose: core/registry.py reads
SPEC from here."""
from __future__ import annotations

from core.registry import KeyPlace, TargetSpec

SECTION = "xiaozhi_console"         # migrate.xiaozhi_console: this target's settings (settings.py)
CONFIG_FILE = "data/.config.yaml"   # their server's: manager-api's url and the server secret (read only)


def _no_key(text: str) -> str:
    """The key lives in a database row, not in a file cron could read: health checks the API
    without it (its own key is the operator's shell's)."""
    return ""


SPEC = TargetSpec(
    name="xiaozhi-console",
    summary="upstream's full deployment (manager-api, MySQL, Redis), its LLM picked per agent in the web console",
    implementation="targets.xiaozhi_console.target:XiaozhiConsole",
    key_place=KeyPlace(CONFIG_FILE, _no_key),
    section=SECTION,
    settings="targets.xiaozhi_console.settings:read",
    sandbox_steps="targets.xiaozhi_console.sandbox",
    sandbox_config="sandbox-console.yaml",
)
