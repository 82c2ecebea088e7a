"""The router in front of xiaozhi-esp32-server for the 30/70 stage: the LiteLLM proxy's config,
rendered pure from a spec and the stage's weights. The server's selected entry asks the proxy
for ``GROUP``; the proxy shuffles it by weight between the local model and the API, retries, then
falls back to the API alone. The key and the master key stay in the environment (os.environ/...)."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from core import envfile
from core.errors import ConfigError
import yaml

TEMPLATES = Path(__file__).resolve().parent / "templates"
GROUP = "xiaozhi-llm"            # what the server's router entry names as its model
FALLBACK = "xiaozhi-api"         # the API alone, when the local model fails
KEY_VARIABLE = "DASHSCOPE_API_KEY"
MASTER_KEY_VARIABLE = "LITELLM_MASTER_KEY"
PORT = 4000
LOCAL_PREFIX = "ollama_chat/"    # LiteLLM's provider for the local model (the template's)


def master_key_for(api_key: str) -> str:
    """What a server sends the router: derived from the API key (HMAC, so that it reveals nothing
    of it), the same at every move with the same key, so that a way back writes the very bytes it
    found ('' without a key: the caller takes the deployed one)."""
    if not api_key:
        return ""
    return "sk-xiaozhi-router-" + hmac.new(api_key.encode(), b"xiaozhi-router-master-key",
                                           hashlib.sha256).hexdigest()[:32]


def env_file(api_key: str, master_key: str) -> str:
    """The router's environment file (0600): the API key and its master key, as the config names them."""
    return f"{KEY_VARIABLE}={envfile.quote(api_key)}\n{MASTER_KEY_VARIABLE}={envfile.quote(master_key)}\n"


@dataclass(frozen=True)
class Backend:
    model: str        # qwen2:7b (Ollama's name) or qwen-plus (the API's)
    base_url: str     # as the router reaches it: Ollama's root, or DashScope's compatible-mode /v1
    timeout: float


@dataclass(frozen=True)
class RouterSpec:
    local: Backend
    api: Backend
    num_retries: int = 2


def render(spec: RouterSpec, weights: dict[str, int]) -> str:
    """The proxy's config.yaml for ``weights`` ({'local': 30, 'qwen': 70}, the seed's names)."""
    from compose_stack.templating import environment
    local, api = weights.get("local", 0), weights.get("qwen", 0)
    if local < 0 or api < 0 or local + api == 0:
        raise ConfigError(f"no traffic to route with weights {weights}", where="router weights",
                          hint="give the local model or the API a weight above 0")
    return environment(TEMPLATES, compose_file=False).get_template("litellm.yaml.j2").render(
        group=GROUP, fallback=FALLBACK, local=spec.local, api=spec.api, local_weight=local, api_weight=api,
        num_retries=spec.num_retries, local_prefix=LOCAL_PREFIX, key_variable=KEY_VARIABLE, master_key_variable=MASTER_KEY_VARIABLE)


def weights_of(text: str) -> dict[str, int]:
    """The weights a deployed config gives the group ({'local': 30, 'qwen': 70}, the seed's names);
    raises ValueError when the text is not such a config."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML: {str(exc).splitlines()[0]}") from None
    found: dict[str, int] = {}
    for item in (data.get("model_list") if isinstance(data, dict) else None) or []:
        params = (item or {}).get("litellm_params") or {} if isinstance(item, dict) else {}
        if item.get("model_name") != GROUP or not isinstance(params, dict):
            continue
        name = "local" if str(params.get("model", "")).startswith(LOCAL_PREFIX) else "qwen"
        weight = params.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise ValueError(f"weight {weight!r} of {params.get('model')} is not a whole number")
        found[name] = found.get(name, 0) + weight
    if not found:
        raise ValueError(f"no deployment of the group {GROUP}")
    return found
