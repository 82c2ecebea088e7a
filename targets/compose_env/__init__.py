"""The seed's compose stack (``migrate.target: compose-env``): the operator's docker-compose.yml
with a Compose override and llm.env rendered per stage beside it; the split in llm-service's
LLM_PROVIDER_WEIGHTS. Light on purpose: core/registry.py reads SPEC from here."""
from __future__ import annotations

from core import envfile
from core.registry import KeyPlace, TargetSpec


def _deployed_key(text: str) -> str:
    return envfile.parse(text).get("QWEN_API_KEY", "")


SPEC = TargetSpec(
    name="compose-env",
    summary="the compose stack whose llm-service reads LLM_PROVIDER_WEIGHTS",
    implementation="targets.compose_env.target:ComposeEnv",
    key_place=KeyPlace(envfile.ENV_FILE, _deployed_key),
    review="targets.compose_env.review:expected",
    sandbox_steps="targets.compose_env.sandbox",
    sandbox_config="sandbox.yaml",
)
