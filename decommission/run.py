"""`invoke decommission`: the only irreversible step of the migration, so the most careful.

Observe (container, running weights, API, store) -> plan (every path and byte) -> preconditions ->
drain -> remove the model (Ollama's own DELETE while it runs, else the offline collector, or a
quarantine move) -> stop and remove the container (its volume only with --purge) -> report.
Each step goes to the audit log with paths, sizes and digests."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psutil

from decommission import collect, drain
from decommission.locate import host_store, volume as find_volume
from decommission.quarantine import audit_logger, quarantine_place, repair_hint
from decommission.store import Owned, VolumeContent, check_path, owned, refuse_if_unsafe, volume_content
from checks import gates
from adapters import docker_api, http
from core import state
from core.config import Settings
from core.errors import MigrationError, Refused
from core.files import check_private_dir
import contextlib

GB = 1e9


@dataclass(frozen=True)
class Routed:
    """The weight the running stack gives the local LLM, as its target reads it."""
    via: str                     # what routes the traffic, in words: "llm-service", "LiteLLM router"
    weight: int | None           # None: nothing routes now (no such container runs)


@dataclass
class Facts:
    container: docker_api.Container | None
    volume: docker_api.Volume | None
    store: Path | None           # the store's path on the host
    found: Owned | None
    routed: Routed               # what the running stack sends the local LLM (from the target)
    api_ok: bool
    api_detail: str
    content: VolumeContent | None = None   # everything in the model volume, sorted


def volume_fate(facts: Facts, purge: bool, whole: bool) -> tuple[bool, str]:
    """(remove the volume?, why) -- it goes only when asked, and only when nothing but the
    decommissioned model (and Ollama's own key files) lives in it, unless ``whole`` says so."""
    if not purge:
        return False, "kept (--purge removes it when nothing else is in it)"
    if facts.volume is None:
        return False, "none to remove (the store is a bind mount, or the volume is gone)"
    if facts.content is not None and facts.content.keeps_the_volume and not whole:
        return False, ("KEPT: it holds more than this model (listed above); `--purge-whole-volume` removes it "
                       "with everything in it")
    return True, "REMOVED (--purge" + (" --purge-whole-volume: everything in it is lost)" if whole else ")")

def observe(settings: Settings, client, routed: Routed, check_api: bool = True, purge: bool = False) -> Facts:
    """The world as decommissioning sees it; the volume's whole content is walked only for --purge."""
    container = docker_api.container(client, settings.local_llm.container)
    volume = find_volume(settings, client)
    store = host_store(settings, volume)
    found = None
    if store is not None and (store.exists() or store.is_symlink()):
        store = check_path(store, store)
        found = owned(store, settings.local_llm.model)
    api_ok, detail = True, "not checked"
    if check_api:  # the same judgement as the phase gate of that name
        verdict = gates.api(settings)
        api_ok, detail = verdict.passed, verdict.detail
    content = (volume_content(Path(volume.mountpoint), store, found)
               if purge and volume is not None else None)
    return Facts(container, volume, store, found, routed, api_ok, detail, content)


def nothing_to_do(facts: Facts, purge: bool, whole: bool = False) -> bool:
    model_gone = facts.found is None or facts.found.manifest is None
    return facts.container is None and model_gone and not volume_fate(facts, purge, whole)[0]


def _describe_content(content: VolumeContent) -> list[str]:
    size = lambda paths: sum(p.lstat().st_size for p in paths if os.path.lexists(p)) / GB  # noqa: E731
    lines = [f"  volume content: {len(content.goes)} file(s) of this model ({size(content.goes):.2f} GB) go"]
    for model, files in content.others.items():
        lines.append(f"    stays: {model}: its manifest and {len(files) - 1} blob(s) ({size(files):.2f} GB)")
    if content.orphans:
        lines.append(f"    stays: {len(content.orphans)} blob(s) no manifest names ({size(content.orphans):.2f} GB)")
    lines += [f"    stays: unknown file {p}" for p in content.unknown[:20]]
    if len(content.unknown) > 20:
        lines.append(f"    stays: ... {len(content.unknown) - 20} more unknown file(s)")
    if content.ollama_own:
        lines.append("    Ollama's own files (go with the volume): " + ", ".join(p.name for p in content.ollama_own))
    return lines


def describe(settings: Settings, facts: Facts, quarantine: Path | None, purge: bool, whole: bool = False,
             after_stage=None) -> str:
    """The plan in words. ``after_stage``: a preview for a stage move (the weight precondition is
    judged on the weight that stage gives, since the decommission runs once it is applied)."""
    name = settings.local_llm.container
    state_word = facts.container.status if facts.container else "absent"
    lines = [f"decommission {name} ({state_word}), model {settings.local_llm.model} in {facts.store or 'no store found'}"]
    if after_stage is not None:
        weight = after_stage.local_weight
        lines.append(f"  precondition: {facts.routed.via} gives the local LLM weight {weight} once stage "
                     f"{after_stage.number} is applied (want 0): {'ok' if weight == 0 else 'NOT MET'}")
    else:
        weight = facts.routed.weight
        lines.append(f"  precondition: running {facts.routed.via} gives local weight "
                     f"{'?' if weight is None else weight} (want 0): {'ok' if weight in (0, None) else 'NOT MET'}")
    if facts.api_detail != "not checked":
        verdict = "ok" if facts.api_ok else f"NOT MET: {facts.api_detail}"
        lines.append(f"  precondition: the API is healthy now: {verdict}")
    found = facts.found
    if found is None or found.manifest is None:
        lines.append("  model files: none (already removed)")
    else:
        how = (f"move to quarantine {quarantine}" if quarantine else
               "Ollama's DELETE /api/delete" if facts.container and facts.container.status == "running"
               else "offline collector")
        lines.append(f"  remove ({how}):")
        lines += [f"    {p}  {size / GB:.3f} GB  {digest}" for p, size, digest in found.remove]
        lines += [f"  keep (shared with other models): {p}" for p, _ in found.shared]
        lines += [f"  never followed (symlink): {p}" for p in found.links]
        lines += [f"  MISSING blob named by the manifest: {d}" for d in found.missing]
        lines.append(f"  bytes to move to quarantine: {found.bytes} ({found.bytes / GB:.2f} GB; freed when "
                     f"`decommission.purge` empties it)" if quarantine else
                     f"  bytes to free: {found.bytes} ({found.bytes / GB:.2f} GB, deleted for good)")
    if purge and facts.content is not None:
        lines += _describe_content(facts.content)
    lines.append(f"  then: drain (up to {settings.decommission.drain_timeout:.0f} s), stop (grace "
                 f"{settings.decommission.stop_timeout} s) and remove the container; volume "
                 + volume_fate(facts, purge, whole)[1])
    return "\n".join(lines)


def _refusals(settings: Settings, facts: Facts) -> list[str]:
    out = []
    if facts.routed.weight not in (0, None):
        out.append(f"the running {facts.routed.via} still sends weight {facts.routed.weight} to the local LLM: "
                   "move to stage 3 first (`invoke phase --stage 3`)")
    if not facts.api_ok:
        out.append(f"the API is not healthy now ({facts.api_detail}): the local model is the fallback")
    return out


def _resources(store: Path | None) -> dict:
    path = store if store and store.exists() else Path("/")
    return {"mem_available": psutil.virtual_memory().available, "disk_free": psutil.disk_usage(str(path)).free}


def on_host_refusal(settings: Settings) -> Refused:
    """An Ollama the operator runs on the host is not the toolkit's to stop or delete: it did not
    deploy it, cannot quarantine its files where they are, and cannot start it again."""
    model = settings.local_llm.model
    return Refused(f"Ollama runs on this host, outside Compose (migrate.local_llm.runs_on: host): the toolkit "
                   f"moves the traffic off it but does not stop it or delete {model}",
                   where="migrate.local_llm.runs_on",
                   hint=f"when `invoke health` shows nothing uses it, free its memory with `ollama stop {model}` "
                        "(and `sudo systemctl disable --now ollama` if nothing else uses Ollama); free its disk "
                        f"with `ollama rm {model}` after copying its store if you want a quick way back; "
                        "nothing was changed")


def decommission(settings: Settings, routed: Callable[[], Routed], *, dry_run=False, yes=False, force=False,
                 quarantine: str | None = None, purge=False, purge_whole_volume=False, drain_timeout: float | None = None, confirm=None,
                 out=print, locked: bool = False, client=None) -> dict:
    """``routed`` reads what the running stack sends the local LLM (the target knows how);
    ``locked``: the caller (phase) already holds the deploy directory's lock."""
    d = settings.deploy_dir
    if settings.local_llm.on_host:
        raise on_host_refusal(settings)
    check_private_dir(d)
    client = client or docker_api.client()
    qdir = Path(quarantine or settings.decommission.quarantine_dir) if (quarantine or settings.decommission.quarantine_dir) else None
    if collect.read_journal(d) and not dry_run:
        out("an earlier decommission stopped half-way: completing it from its journal")
        with _lock(d, locked):
            freed = collect.finish(d, audit_logger(d), host_store(settings, find_volume(settings, client)), qdir)
        out(f"completed: {freed} more bytes freed")
    facts = observe(settings, client, routed(), purge=purge)
    if purge_whole_volume and not purge:
        raise Refused("--purge-whole-volume goes with --purge", where="--purge-whole-volume",
                      hint="pass both to remove the volume with everything in it; nothing was changed")
    out(describe(settings, facts, qdir, purge, purge_whole_volume))
    if nothing_to_do(facts, purge, purge_whole_volume):
        out("nothing to decommission: the container and the model are already gone")
        return {"done": False}
    refusals = _refusals(settings, facts)
    if refusals and not force:
        raise Refused("; ".join(refusals), where="decommission preconditions",
                      hint="fix them, or pass --force (the audit log records it)")
    if facts.found and facts.found.manifest is not None:
        refuse_if_unsafe(facts.found, force, repair_hint(settings, quarantine, facts.container is not None))
    if qdir is not None:
        quarantine_place(qdir, facts.store)
    if dry_run:
        out("dry run: nothing was changed")
        return {"done": False}
    if not yes and not (confirm and confirm(f"decommission {settings.local_llm.container} and its model?")):
        raise MigrationError("not confirmed: nothing was changed", hint="answer y, or pass --yes")
    with _lock(d, locked):
        remove_volume = volume_fate(facts, purge, purge_whole_volume)[0]
        return _carry_out(settings, client, facts, qdir, remove_volume, force, refusals,
                          settings.decommission.drain_timeout if drain_timeout is None else float(drain_timeout), out)


def _lock(deploy_dir: Path, held: bool):
    return contextlib.nullcontext() if held else state.lock(deploy_dir)


def _carry_out(settings, client, facts, qdir, remove_volume, force, refusals, drain_timeout, out) -> dict:
    d, log = settings.deploy_dir, audit_logger(settings.deploy_dir)
    before = _resources(facts.store)
    log("start", forced=force, refusals=refusals, quarantine=str(qdir) if qdir else None, purge=remove_volume,
        planned=collect.plan_entries(facts.found) if facts.found else [])
    container, freed, batch = facts.container, 0, None
    if container is not None and container.status == "running":
        # Counted inside the container's network namespace: its own port, not the published one.
        port = settings.local_llm.service.port
        drained, left = drain.wait(port, container.pid, drain_timeout, out)
        log("drain", drained=drained, connections_left=left)
        if not drained and not force:
            raise Refused(f"{left} connection(s) to the local LLM still open after {drain_timeout:.0f} s",
                          where="drain", hint="wait for traffic to stop, raise --drain-timeout, or pass --force")
    found = facts.found
    if found is not None and found.manifest is not None:
        if qdir is not None:
            _stop(settings, client, container, log)
            batch = collect.quarantine(d, facts.store, found, qdir, log)
            freed = found.bytes
        else:
            _delete(settings, client, container, facts, log, out)
        # Measured, not assumed: the planned files that are really gone now.
        freed = sum(size for path, size, _ in found.remove if not os.path.lexists(path))
    _stop(settings, client, container, log)
    if container is not None:
        docker_api.remove(client, container.name, force=False)
        log("container-removed", name=settings.local_llm.container)
    if remove_volume:
        docker_api.remove_volume(client, facts.volume.name)
        log("volume-removed", name=facts.volume.name)
    elif facts.volume is not None and facts.content is not None and facts.content.keeps_the_volume:
        log("volume-kept", name=facts.volume.name, others=sorted(facts.content.others),
            unknown=[str(p) for p in facts.content.unknown[:20]], orphans=len(facts.content.orphans))
    after = _resources(facts.store)
    summary = {"done": True, "bytes_freed": freed, "quarantine": str(batch) if batch else None,
               "mem_freed": after["mem_available"] - before["mem_available"],
               "disk_freed": after["disk_free"] - before["disk_free"]}
    log("done", **summary)
    out(f"decommissioned: {freed / GB:.2f} GB of model files {'quarantined in ' + str(batch) if batch else 'removed'}; "
        f"memory available {before['mem_available'] / GB:.2f} -> {after['mem_available'] / GB:.2f} GB; "
        f"disk free {before['disk_free'] / GB:.2f} -> {after['disk_free'] / GB:.2f} GB")
    return summary


def _delete(settings, client, container, facts, log, out) -> None:
    """Through Ollama while it runs (it prunes what it no longer references), else offline."""
    found = facts.found
    if container is not None and container.status == "running":
        try:
            status, text = http.request("DELETE", settings.local_llm.probe_url + "/api/delete",
                                        json={"model": settings.local_llm.model}, timeout=60)
            if status == 200:
                gone = [(p, size, dig) for p, size, dig in found.remove if not p.exists()]
                for p, size, dig in gone:
                    log("removed", path=str(p), bytes=size, digest=dig, by="ollama")
                leftovers = [p for p, _, _ in found.remove if p.exists()]
                if not leftovers:
                    return
                out(f"Ollama left {len(leftovers)} planned file(s); finishing offline")
            else:
                out(f"Ollama's delete answered {status}: {text[:200]}; using the offline collector")
        except http.HTTPError as exc:
            out(f"Ollama's delete failed ({exc}); using the offline collector")
        _stop(settings, client, container, log)
        found = owned(facts.store, settings.local_llm.model)
        if found.manifest is None:  # Ollama removed the manifest: finish its blobs from the plan
            found = facts.found
    collect.delete(settings.deploy_dir, facts.store, found, log)


def _stop(settings, client, container, log) -> None:
    if container is None:
        return
    now = docker_api.container(client, container.name)   # read again: it may have stopped since
    if now is not None and now.status == "running":
        docker_api.stop(client, container.name, timeout=settings.decommission.stop_timeout)
        log("container-stopped", name=container.name, timeout=settings.decommission.stop_timeout)
