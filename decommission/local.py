"""What a stage move asks about the local model, whichever kind of stack runs it: is it whole
where a stage needs it, does its container still exist, and what will its decommission do."""
from __future__ import annotations

from pathlib import Path

from adapters import docker_api
from core.config import Settings, Stage
from core.ollama_store import damage
from decommission import run as decommissioning
from decommission.locate import host_store, volume


def needs_local_model(settings: Settings, client, stage: Stage) -> tuple[str, list[str]]:
    """Where the local model a stage sends traffic to is, and what is wrong with it (empty: whole)."""
    if not stage.local_llm:
        return "", []
    store = host_store(settings, volume(settings, client))
    if store is None or not store.is_dir():
        return str(store), []  # not resolvable from here (first deployment): verification judges it
    return str(store), damage(store, settings.local_llm.model)


def container_exists(settings: Settings, client) -> bool:
    """Whether the local LLM's container is still there (to be decommissioned); an Ollama on the
    host is not the toolkit's (the plan says how to free it by hand)."""
    if settings.local_llm.on_host:
        return False
    return docker_api.inspect_or_none(client, settings.local_llm.container) is not None


def preview(settings: Settings, client, routed, stage: Stage, out) -> int:
    """Show what the decommission that follows a verified ``stage`` will do; the bytes it would
    delete for good (0 when it quarantines, or finds nothing)."""
    facts = decommissioning.observe(settings, client, routed, check_api=False)
    qdir = settings.decommission.quarantine_dir
    out("then, once the stage is verified, the local LLM is decommissioned:")
    out("\n".join("  " + line for line in decommissioning.describe(
        settings, facts, Path(qdir) if qdir else None, purge=False, after_stage=stage).splitlines()))
    found = facts.found
    return found.bytes if found is not None and found.manifest is not None and not qdir else 0
