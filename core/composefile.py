"""Reading a Compose file's services without Compose: the operator's docker-compose.yml (with
its anchors, `x-` extensions and Compose's own `!reset` / `!override` tags) and the stage's
override. Pure; what Compose itself makes of the files (the merged model) is adapters/compose."""
from __future__ import annotations

import re
from typing import Any

import yaml


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's when built with it: health reads these
    """SafeLoader that reads a tagged node (Compose's `!reset`, `!override`) as its plain value."""


def _untagged(loader: _Loader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _untagged)


def load(text: str | None) -> dict:
    """The file as data ({} when absent or empty); yaml.YAMLError when it is not YAML."""
    data = yaml.load(text or "", Loader=_Loader) or {}
    if not isinstance(data, dict):
        raise yaml.YAMLError(f"expected a mapping at the top, found {type(data).__name__}")
    return data


def services(text: str | None) -> dict[str, dict]:
    """Each service the file declares, by name, with its block."""
    found = load(text).get("services") or {}
    if not isinstance(found, dict):
        raise yaml.YAMLError("`services` is not a mapping")
    return {str(name): block if isinstance(block, dict) else {} for name, block in found.items()}


def environment(block: dict) -> dict[str, str | None]:
    """A service's ``environment`` in either of Compose's forms (a mapping, or NAME=value items)."""
    env = block.get("environment") or {}
    if isinstance(env, list):
        return {str(item).partition("=")[0]: (str(item).partition("=")[2] if "=" in str(item) else None)
                for item in env}
    return {str(k): None if v is None else str(v) for k, v in env.items()} if isinstance(env, dict) else {}


def declared(*texts: str | None) -> set[str]:
    """Every service the files declare together (the operator's and the override): a container
    of the project whose service is not among them is one of Compose's orphans."""
    return set().union(*(services(text) for text in texts))


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
_UNIT = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def seconds(value) -> float | None:
    """A Compose duration (`1m30s`, `45s`, a bare number of seconds) in seconds; None when it is
    not one (a `${VARIABLE}` Compose fills in later, say)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def grace_periods(text: str | None) -> dict[str, float | None]:
    """The services of the file that set their own stop_grace_period, in seconds (None: not a
    duration the toolkit can read)."""
    try:
        found = services(text)
    except yaml.YAMLError:
        return {}
    return {name: seconds(block["stop_grace_period"]) for name, block in found.items()
            if block.get("stop_grace_period") not in (None, "")}
