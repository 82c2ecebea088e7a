"""The stack's services and the weights format, once: config validates against this table,
the templates render from it, and drift and judge read it. Standard library only: the
sandbox's llm-service reads its weights with the same parser (the image carries this file)."""
from __future__ import annotations

from dataclasses import dataclass

WEIGHTS_VARIABLE = "LLM_PROVIDER_WEIGHTS"
PROVIDERS = ("qwen", "local")  # the API, the local model: the names the weights give traffic to
LOCAL_LLM_SERVICE = "local-llm"


@dataclass(frozen=True)
class StackService:
    name: str             # the Compose service
    limit: str            # its key in a stage's limits
    limit_variable: str   # the *_MAX_CONCURRENT variable it reads
    reads_weights: bool = False  # llm-service: the split between the API and the local model

    @property
    def drift_variables(self) -> tuple[str, ...]:
        """The variables a stage sets on it; a running value that differs is drift."""
        return ((WEIGHTS_VARIABLE,) if self.reads_weights else ()) + (self.limit_variable,)


STACK = (StackService("vad", "vad", "VAD_MAX_CONCURRENT"),
         StackService("asr", "asr", "ASR_MAX_CONCURRENT"),
         StackService("tts", "tts", "TTS_MAX_CONCURRENT"),
         StackService("llm-service", "llm", "LLM_MAX_CONCURRENT", reads_weights=True))
BY_NAME = {s.name: s for s in STACK}
WEIGHTS_SERVICE = next(s.name for s in STACK if s.reads_weights)  # the one that splits the traffic


def parse_weights(text: str) -> dict[str, int]:
    """'qwen:70,local:30' -> {'qwen': 70, 'local': 30}, in any order; ValueError otherwise:
    a typo must not move traffic."""
    weights: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = (part.strip() for part in item.partition(":"))
        if not sep or name not in PROVIDERS or not value.isdigit():
            raise ValueError(f"{WEIGHTS_VARIABLE}={text!r}: item {item!r}: expected NAME:INT with NAME one of "
                             f"{', '.join(PROVIDERS)}")
        if name in weights:
            raise ValueError(f"{WEIGHTS_VARIABLE}={text!r} names {name!r} twice")
        weights[name] = int(value)
    return weights


def format_weights(weights: dict[str, int]) -> str:
    return ",".join(f"{name}:{weights.get(name, 0)}" for name in PROVIDERS)
