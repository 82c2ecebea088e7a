"""The upstream server's ``data/.config.yaml``, edited round-trip: comments, key order, quoting
and every key the toolkit does not own stay byte for byte (ruamel.yaml). The toolkit owns only
``selected_module.LLM``, the LLM entries it adds (named with ``OWNED_PREFIX``), and, at cut-over,
``Intent.intent_llm.llm`` and ``Memory.mem_local_short.llm`` when they name the local entry.
Pure: text in, text out; the server's own merge of its built-in config.yaml is ``merged``."""
from __future__ import annotations

import io
from typing import Any

from core.errors import ConfigError, Refused

OWNED_PREFIX = "Migrate"          # every LLM entry the toolkit adds: MigrateRouterLLM, ...
REFERENCES = (("Intent", "intent_llm", "llm"), ("Memory", "mem_local_short", "llm"))  # other places naming an LLM entry


def _yaml():
    from ruamel.yaml import YAML
    y = YAML()                   # round-trip: comments, order, quotes and flow style are kept
    y.preserve_quotes = True
    y.width = 4096               # never re-wrap a long line of theirs
    return y


def load(text: str, where: str = "data/.config.yaml"):
    """The user's file as a round-trip mapping; refuses what the toolkit cannot migrate."""
    from ruamel.yaml.error import YAMLError
    try:
        data = _yaml().load(text)
    except YAMLError as exc:
        raise ConfigError(f"not YAML the server can read: {str(exc).splitlines()[0]}", where=where,
                          hint="fix the file (the server would refuse it too); nothing was changed") from None
    if data is None:  # only comments, or empty: keep the comments above whatever is added
        data = _yaml().load(text.rstrip("\n") + ("\n" if text.strip() else "") + "_placeholder: 1\n")
        del data["_placeholder"]
    if not hasattr(data, "keys"):
        raise ConfigError("the top level is not a mapping", where=where, hint="the server expects key: value pairs")
    manager = data.get("manager-api")
    if hasattr(manager, "get") and manager.get("url"):
        raise Refused("this data/.config.yaml takes its config from the web console (manager-api.url): the full "
                      "deployment is not supported yet", where=f"{where}: manager-api.url",
                      hint="migrate in the web console, or use the single-server deployment; nothing was changed")
    return data


def dump(data) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def selected_llm(data) -> str | None:
    return (data.get("selected_module") or {}).get("LLM")


def select_llm(data, entry: str) -> None:
    """``selected_module.LLM: entry``; the section is created (at the end) when the file has none."""
    if data.get("selected_module") is None:
        data["selected_module"] = _yaml().load("{}\n")
    set_scalar(data["selected_module"], "LLM", entry)


def set_scalar(node, key: str, value: str) -> None:
    """``node[key] = value``, keeping the gap before a comment at the end of its line: ruamel keeps
    the comment's column, so a longer value and back would leave it further right than it was."""
    old = node.get(key)
    node[key] = value
    token = (getattr(node, "ca", None) and node.ca.items.get(key) or [None] * 3)[2]
    if token is not None and isinstance(old, str) and token.column is not None:
        token.column = max(token.column - len(old) + len(value), 0)


def put_entry(data, name: str, fields: dict[str, Any]) -> None:
    """Add or replace an LLM entry the toolkit owns; an entry of theirs is never written."""
    _owned(name)
    if data.get("LLM") is None:
        data["LLM"] = _yaml().load("{}\n")
    data["LLM"][name] = dict(fields)


def remove_entry(data, name: str) -> None:
    _owned(name)
    if data.get("LLM") is not None and name in data["LLM"]:
        del data["LLM"][name]


def retarget(data, old: str, new: str) -> list[str]:
    """Point the other places that name ``old`` (intent, memory) at ``new``; the dotted keys changed."""
    changed = []
    for section, module, key in REFERENCES:
        node = (data.get(section) or {}).get(module)
        if hasattr(node, "get") and node.get(key) == old:
            set_scalar(node, key, new)
            changed.append(f"{section}.{module}.{key}")
    return changed


def merged(defaults: dict, user: dict) -> dict:
    """What the server runs with: its built-in config.yaml deep-merged with the user's file, the
    user's file winning key by key (nested mappings merge; any other value replaces)."""
    out = dict(defaults)
    for key, value in user.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def _owned(name: str) -> None:
    if not name.startswith(OWNED_PREFIX):
        raise Refused(f"LLM entry {name!r} is not the toolkit's", where="data/.config.yaml: LLM",
                      hint=f"the toolkit writes only entries named {OWNED_PREFIX}...")
