"""Quarantine: where a decommissioned model's files wait (moved, never copied) so that a
rollback needs no download; restoring them, and purging old copies."""
from __future__ import annotations

import re
import time
from pathlib import Path

from decommission import collect
from decommission.locate import host_store, volume
from decommission.store import can_move
from adapters import docker_api
from core import ollama_store, state
from core.config import Settings
from core.errors import ConfigError, MigrationError, Refused

GB = 1e9


OLLAMA_IMAGE = "ollama/ollama:latest"   # for a one-off pull when config names no image (yours is in your file)

def audit_logger(deploy_dir: Path):
    """Each decommissioning step as an audit entry: decommission-<event> with its fields."""
    def log(event, **fields):
        state.audit(deploy_dir, f"decommission-{event}", **fields)
    return log


def quarantine_place(qdir: Path, store: Path | None) -> None:
    """Refuse a quarantine directory the files could not be moved into (before anything moves)."""
    if not qdir.is_absolute():
        raise Refused("the quarantine directory must be an absolute path", where=str(qdir))
    created = not qdir.exists()
    qdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        _check_place(qdir, store)
    except Refused:
        if created:
            qdir.rmdir()
        raise


def _check_place(qdir: Path, store: Path | None) -> None:
    if store and (qdir.resolve() == store or store in qdir.resolve().parents):
        raise Refused("the quarantine directory is inside the store", where=str(qdir))
    if store and not can_move(store, qdir):
        raise Refused("files cannot be moved from the store to the quarantine directory (another "
                      "filesystem or mount)", where=str(qdir),
                      hint=f"choose a directory on the same mount as {store}: files are moved, never copied")


def repair_hint(settings: Settings, quarantine: str | None = None, container_exists: bool = True) -> str:
    """The exact commands that make the local model whole again: the quarantined copy if there
    is one, else a pull (through the container, or a one-off one on the same store when the
    container is gone, since rolling back needs the model first)."""
    qdir = quarantine or settings.decommission.quarantine_dir
    ll = settings.local_llm
    if ll.on_host:
        return f"`ollama pull {ll.model}` on this host (its Ollama is yours: the toolkit keeps no copy of its models)"
    copies = [b for b in collect.batches(Path(qdir)) if collect.read_batch(b)["model"] == ll.model] if qdir else []
    if copies:
        return (f"`invoke decommission.restore` puts back the copy quarantined in {copies[-1]}; "
                f"if that copy is damaged too: `docker exec {ll.container} ollama pull {ll.model}`")
    if container_exists:
        return (f"`docker start {ll.container} && docker exec {ll.container} ollama pull {ll.model}`; or, if you "
                f"quarantined it in another directory, `invoke decommission.restore --quarantine DIR`")
    store = (str((settings.deploy_dir / ll.store_volume).resolve()) if ll.store_is_path
             else f"{settings.project}_{ll.store_volume}")
    return (f"pull it into the same store with a one-off container: `docker run -d --name xiaozhi-pull -v "
            f"{store}:{ll.store_mount} {ll.service.image or OLLAMA_IMAGE} && docker exec xiaozhi-pull ollama pull {ll.model} && "
            f"docker rm -f xiaozhi-pull`; or, if you quarantined it in another directory, "
            f"`invoke decommission.restore --quarantine DIR`")


def newest_copy(settings: Settings) -> tuple[Path, float] | None:
    """The newest quarantined copy of the local model in the configured directory, and when it was
    taken (Unix seconds); None when there is none (or its manifest cannot be read)."""
    qdir = settings.decommission.quarantine_dir
    if not qdir:
        return None
    try:
        mine = [(b, collect.read_batch(b)) for b in collect.batches(Path(qdir))]
    except (MigrationError, OSError):
        return None
    mine = [(b, data["time"]) for b, data in mine if data["model"] == settings.local_llm.model]
    return mine[-1] if mine else None


def restore(settings: Settings, quarantine: str | None, out=print, verify: bool = False, yes: bool = False,
            confirm=None) -> dict:
    """Put the newest quarantined copy of the model back, check that the model is whole (every
    blob its manifest names, with its size; the content's sha256 with ``verify``), and start the
    container if it exists. A model that is not whole is an error naming each damaged blob."""
    if settings.local_llm.on_host:
        raise MigrationError("Ollama runs on this host, outside Compose: the toolkit never quarantined its model",
                             where="migrate.local_llm.runs_on",
                             hint=f"put back the copy you kept, or `ollama pull {settings.local_llm.model}`; "
                                  "nothing was changed")
    qdir = quarantine or settings.decommission.quarantine_dir
    if not qdir:
        raise MigrationError("no quarantine directory", where="--quarantine",
                             hint="pass the directory given to `invoke decommission --quarantine`")
    mine = [b for b in collect.batches(Path(qdir)) if collect.read_batch(b)["model"] == settings.local_llm.model]
    if not mine:
        raise MigrationError(f"no quarantined copy of {settings.local_llm.model}", where=str(qdir),
                             hint="nothing to restore: pull the model again (ollama pull)")
    d = settings.deploy_dir
    client = docker_api.client()
    store = host_store(settings, volume(settings, client))
    if store is None:
        raise MigrationError("the model store cannot be found (its volume is gone?)", where="migrate.local_llm",
                             hint="`invoke rollback --to 2` recreates the volume; then restore again")
    shown = collect.read_batch(mine[-1])
    out(f"will put back {shown['model']} ({sum(e['bytes'] for e in shown['files']) / GB:.2f} GB, "
        f"{len(shown['files'])} files) from {mine[-1]} into {store}, then start {settings.local_llm.container}")
    if not yes and not (confirm and confirm("restore it?")):
        raise MigrationError("not confirmed: nothing was changed", hint="answer y, or pass --yes")
    with state.lock(d):
        data = collect.restore(mine[-1], audit_logger(d), store)
        state.audit(d, "decommission-restore", batch=str(mine[-1]), model=data["model"],
                    bytes=sum(e["bytes"] for e in data["files"]))
    problems = ollama_store.damage(store, settings.local_llm.model, verify=verify)
    exists = docker_api.container_state(client, settings.local_llm.container) is not None
    if problems:
        state.audit(d, "decommission-restore-damaged", model=data["model"], problems=problems)
        raise MigrationError(f"the quarantined files are back in {store}, but {data['model']} is not whole",
                             where=str(store), detail="\n".join(problems),
                             hint=repair_hint(settings, qdir, container_exists=exists)
                             + "; do not roll back until then")
    out(f"restored {data['model']} ({sum(e['bytes'] for e in data['files']) / GB:.2f} GB) into {data['root']}; "
        f"every blob its manifest names is there with its size" + (" and content" if verify else ""))
    if exists:
        docker_api.start(client, settings.local_llm.container)
        out(f"started {settings.local_llm.container}")
    else:
        out("the container is gone: `invoke rollback --to 2` recreates it with the restored model")
    return data


def purge(settings: Settings, older_than: str, quarantine: str | None, *, dry_run: bool = False,
          yes: bool = False, confirm=None, out=print) -> list[Path]:
    """Delete the quarantined copies older than ``older_than`` (the only quick way back from stage
    3): each is listed first, and nothing goes without a yes."""
    match = re.fullmatch(r"(\d+)([dh])", str(older_than))
    if not match:
        raise ConfigError(f"invalid age {older_than!r}", where="--older-than", hint="write it as Nd or Nh, e.g. 7d")
    qdir = quarantine or settings.decommission.quarantine_dir
    if not qdir:
        raise ConfigError("no quarantine directory given or configured", where="--quarantine",
                          hint="pass --quarantine DIR or set migrate.decommission.quarantine_dir")
    seconds = int(match.group(1)) * (86400 if match.group(2) == "d" else 3600)
    listed = collect.purge(Path(qdir), seconds, audit_logger(settings.deploy_dir), dry_run=True)
    for batch in listed:
        data = collect.read_batch(batch)
        out(f"{'would delete' if dry_run else 'will delete'}: {batch} ({data['model']}, "
            f"{sum(e['bytes'] for e in data['files']) / GB:.2f} GB, taken {(time.time() - data['time']) / 3600:.0f} h ago)")
    if not listed:
        out(f"nothing in {qdir} is older than {older_than}: nothing to delete")
    if dry_run or not listed:
        return listed
    if not yes and not (confirm and confirm(f"DELETE {len(listed)} quarantined cop{'y' if len(listed) == 1 else 'ies'} "
                                            "for good (the way back is then pulling the model again)?")):
        raise MigrationError("not confirmed: nothing was changed", hint="answer y, or pass --yes")
    gone = collect.purge(Path(qdir), seconds, audit_logger(settings.deploy_dir), only=set(listed))
    out("deleted: " + ", ".join(map(str, gone)))
    return gone
