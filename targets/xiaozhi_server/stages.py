"""What each stage makes of the user's data/.config.yaml (pure: their text in, the stage's text
out, with what changed in words). The same numbers as the first target, read for this server:

  0 baseline  as found: the local entry selected; nothing of the toolkit's in the file
  1 validate  the API entry added (MigrateApiLLM), not selected
  2 split     the router entry added (MigrateRouterLLM, type openai, base_url the router) and
              selected; the router weighs local / API by the stage's weights
  3 cutover   the API entry selected; Intent.intent_llm.llm and Memory.mem_local_short.llm moved
              off the local entry onto it; the router entry gone

Going back renders the earlier stage from the file as it is now: the toolkit's entries go, the
selection returns to the local entry, and the references it moved at cut-over (recorded) go back.
Byte for byte, a way back is the backup taken before the move (ruamel keeps every byte it does
not touch, but re-aligns a comment after a value it rewrote)."""
from __future__ import annotations

from dataclasses import dataclass, field

from targets.xiaozhi_server import API_ENTRY
from litellm_router import router
from targets.xiaozhi_server import server_config as sc

VALIDATE, SPLIT, CUTOVER = 1, 2, 3   # the stage numbers, as this target reads them (above)
ROUTER_ENTRY = sc.OWNED_PREFIX + "RouterLLM"


@dataclass(frozen=True)
class Entries:
    local: str                 # theirs, e.g. OllamaLLM: selected at baseline, never written
    api: dict = field(repr=False)          # the API entry's fields (type openai, base_url, model_name, api_key)
    router_url: str = ""                   # the router as the server reaches it, e.g. http://xiaozhi-router:4000/v1
    router_key: str = field(default="", repr=False)   # what the server sends the router (its master key)


@dataclass
class Edited:
    text: str = field(repr=False)   # their file, their keys and ours in it
    changes: list[str]         # in words, for the plan
    retargeted: list[str]      # the references moved off the local entry (kept in the state)


def render(text: str, number: int, entries: Entries, retargeted: tuple[str, ...] = ()) -> Edited:
    data = sc.load(text)
    before, found, owned = _summary(data), _entries(data), sc.owned_lines(data)   # read before any edit
    moved: list[str] = []
    # Back to what the user had, then forward to the stage: one path, whatever the starting stage.
    for dotted in retargeted:
        _set_reference(data, dotted, entries.local)
    if sc.selected_llm(data) in (API_ENTRY, ROUTER_ENTRY):
        sc.select_llm(data, entries.local)
    for name in (API_ENTRY, ROUTER_ENTRY):
        sc.remove_entry(data, name)
    if number >= VALIDATE:
        sc.put_entry(data, API_ENTRY, entries.api)
    if number == SPLIT:
        sc.put_entry(data, ROUTER_ENTRY, {"type": "openai", "base_url": entries.router_url,
                                          "model_name": router.GROUP, "api_key": entries.router_key})
        sc.select_llm(data, ROUTER_ENTRY)
    if number >= CUTOVER:
        sc.select_llm(data, API_ENTRY)
        moved = sc.retarget(data, entries.local, API_ENTRY)
    after = _summary(data)
    changes = [f"{key}: {before.get(key) or '(none)'} -> {after.get(key) or '(none)'}"
               for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]
    # The summary names no key: a rotated key or a new router URL changes the entries alone.
    if not changes and _entries(data) == found:
        return Edited(text, changes, moved)     # nothing of the toolkit's changes: their bytes, untouched
    return Edited(sc.kept(text, sc.dump(data, like=text), owned), changes, moved)


def _entries(data) -> dict:
    """The toolkit's entries as plain mappings (compared before and after an edit)."""
    section = data.get("LLM") or {}
    return {n: dict(section.get(n) or {}) for n in (API_ENTRY, ROUTER_ENTRY)}


def holds_key(number: int) -> bool:
    """The stage's config file holds the API entry (and its key)."""
    return number >= VALIDATE


def selected_for(number: int, local: str) -> str:
    """The entry ``selected_module.LLM`` names at a stage."""
    return ROUTER_ENTRY if number == SPLIT else API_ENTRY if number >= CUTOVER else local


def _summary(data) -> dict[str, str]:
    """The keys the toolkit owns, as the plan names them (values of its entries: their type)."""
    out = {"selected_module.LLM": sc.selected_llm(data) or ""}
    for section, module, key in sc.REFERENCES:
        node = (data.get(section) or {}).get(module)
        if hasattr(node, "get") and node.get(key):
            out[f"{section}.{module}.{key}"] = node.get(key)
    for name in (API_ENTRY, ROUTER_ENTRY):
        entry = (data.get("LLM") or {}).get(name)
        if entry is not None:
            out[f"LLM.{name}"] = f"{entry.get('type')} {entry.get('base_url')} {entry.get('model_name')}"
    return out


def _set_reference(data, dotted: str, value: str) -> None:
    section, module, key = dotted.split(".")
    node = (data.get(section) or {}).get(module)
    if hasattr(node, "get") and key in node:
        sc.set_scalar(node, key, value)
