"""Removing or quarantining a model's files, journaled: the journal in the deploy directory
names every path before the first one is touched, so a run that dies half-way is finished by
the next one, which removes only journaled files that no remaining manifest references.
Order follows Ollama: the manifest first, then the blobs.

The journal and a batch's ``quarantine.json`` are files on disk, so they are checked before they
are replayed: only inside the configured store (its ``blobs/`` and ``manifests/``) and the
configured quarantine directory; a malformed one is an error that names it."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from decommission.store import Owned, UnsafeStore, check_path, manifest_digests, refuse_outside
from core import ollama_store
from core.errors import MigrationError
from core.files import atomic_write

JOURNAL = "decommission-journal.json"
BATCH_MANIFEST = "quarantine.json"


def _journal(deploy_dir: Path, data: dict) -> Path:
    path = Path(deploy_dir) / JOURNAL
    atomic_write(path, json.dumps(data, indent=2) + "\n", 0o600)
    return path


def _load(path: Path, what: str, fields: dict) -> dict:
    """A JSON file of ours, with the fields (name -> type) it must have, or a clear error."""
    try:
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or any(not isinstance(data.get(k), t) for k, t in fields.items()):
            raise ValueError(f"expected the fields {', '.join(fields)}")
        for entry in data.get("files", []):
            if not isinstance(entry, dict) or not isinstance(entry.get("path", ""), str) \
                    or not isinstance(entry.get("bytes", 0), int) or not isinstance(entry.get("digest", ""), str):
                raise ValueError("a file entry is malformed")
    except (OSError, ValueError) as exc:
        raise MigrationError(f"malformed {what}: {exc}", where=str(path),
                             hint="inspect it by hand; move it away once you know what it holds") from None
    return data


def read_journal(deploy_dir: Path) -> dict | None:
    path = Path(deploy_dir) / JOURNAL
    if not path.exists():
        return None
    return _load(path, "decommission journal", {"mode": str, "root": str, "files": list})


def _still_referenced(root: Path) -> set[str]:
    scan = ollama_store.scan(root)
    refs = set()
    for path in [*scan.manifests.values(), *scan.linked]:
        refs.update(manifest_digests(path))
    return refs


def _prune_dirs(root: Path, manifest: Path) -> None:
    parent = manifest.parent
    while parent != root / "manifests" and parent.is_relative_to(root / "manifests"):
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def plan_entries(found: Owned) -> list[dict]:
    return [{"path": str(p), "bytes": size, "digest": digest} for p, size, digest in found.remove]


def delete(deploy_dir: Path, root: Path, found: Owned, log) -> int:
    refuse_outside(root, [p for p, _, _ in found.remove])
    _journal(deploy_dir, {"mode": "delete", "model": found.model, "root": str(root),
                          "files": plan_entries(found), "started": time.time()})
    return finish(deploy_dir, log, root)


def quarantine(deploy_dir: Path, root: Path, found: Owned, qdir: Path, log) -> Path:
    refuse_outside(root, [p for p, _, _ in found.remove])
    safe = found.model.replace("/", "_").replace(":", "_")
    batch = Path(qdir) / f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{safe}"
    entries = plan_entries(found)
    for entry in entries:
        entry["rel"] = os.path.relpath(entry["path"], root)
    _journal(deploy_dir, {"mode": "quarantine", "model": found.model, "root": str(root), "batch": str(batch),
                          "files": entries, "started": time.time()})
    (batch / "files").mkdir(parents=True, mode=0o700)
    atomic_write(batch / BATCH_MANIFEST, json.dumps({"model": found.model, "root": str(root), "time": time.time(),
                                                     "files": entries}, indent=2) + "\n")
    finish(deploy_dir, log, root, qdir)
    return batch


def _rel_ok(rel) -> bool:
    parts = Path(rel).parts if isinstance(rel, str) else ()
    return bool(parts) and parts[0] in ("blobs", "manifests") and ".." not in parts and not Path(rel).is_absolute()


def finish(deploy_dir: Path, log, store: Path | None, qdir: Path | None = None) -> int:
    """Carry out (or complete) the journaled removal. Returns the bytes freed by this call.

    A journal is a file on disk, so it is not trusted: its root must be the configured store
    (``store``; unknown: refused), every path it names must be a file of that store's ``blobs/``
    or ``manifests/``, and a quarantine batch must lie in the configured quarantine directory."""
    journal = read_journal(deploy_dir)
    if journal is None:
        return 0
    where = str(Path(deploy_dir) / JOURNAL)
    if store is None:
        raise UnsafeStore("an unfinished decommission journal names a store, and the configured store cannot "
                          "be found to check it against", where=where,
                          hint="check migrate.local_llm (the model volume may be gone); nothing was removed")
    root = check_path(Path(journal["root"]), store)
    try:
        refuse_outside(root, [Path(e["path"]) for e in journal["files"]])
    except UnsafeStore as exc:
        raise UnsafeStore("the decommission journal names paths outside the model store", where=where,
                          detail=exc.detail,
                          hint="inspect the journal; remove it by hand once you know how it got there") from None
    if journal["mode"] == "quarantine":
        batch = Path(str(journal.get("batch", "")))
        if qdir is None or not batch.is_absolute() or not ollama_store.inside(batch, qdir) \
                or any(not _rel_ok(e.get("rel")) for e in journal["files"]):
            raise UnsafeStore("the decommission journal's quarantine batch is not in the configured quarantine "
                              "directory, or names files outside the store", where=where,
                              hint="give the same --quarantine as the run that stopped, or inspect the journal")
    freed = 0
    for i, entry in enumerate(journal["files"]):
        path = Path(entry["path"])
        if not path.exists() or path.is_symlink():
            continue
        # The manifest goes first; a blob is touched only if no remaining manifest needs it.
        if i > 0 and entry["digest"] in _still_referenced(root):
            log("kept", path=str(path), reason="referenced by another model")
            continue
        if journal["mode"] == "quarantine":
            target = Path(journal["batch"]) / "files" / entry["rel"]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(path, target)
            log("quarantined", path=str(path), to=str(target), bytes=entry["bytes"], digest=entry["digest"])
        else:
            path.unlink()
            log("removed", path=str(path), bytes=entry["bytes"], digest=entry["digest"])
        freed += entry["bytes"]
        if i == 0:
            _prune_dirs(root, path)
    os.unlink(Path(deploy_dir) / JOURNAL)
    return freed


def batches(qdir: Path) -> list[Path]:
    if not Path(qdir).is_dir():
        return []
    return sorted(p for p in Path(qdir).iterdir() if (p / BATCH_MANIFEST).is_file())


def read_batch(batch: Path) -> dict:
    return _load(Path(batch) / BATCH_MANIFEST, "quarantine manifest",
                 {"model": str, "root": str, "files": list, "time": (int, float)})


def restore(batch: Path, log, store: Path) -> dict:
    """Move a quarantined model's files back into the configured ``store``. Refuses if the batch
    was taken from another store, names files outside blobs/ and manifests/, or anything is in
    the way."""
    data = read_batch(batch)
    where = str(Path(batch) / BATCH_MANIFEST)
    if os.path.realpath(data["root"]) != os.path.realpath(store):
        raise UnsafeStore(f"the batch was taken from {data['root']}, not from the configured store {store}",
                          where=where, hint="restore it by hand if you are sure; nothing was moved")
    root = check_path(Path(store), store)
    if any(not _rel_ok(e.get("rel")) for e in data["files"]):
        raise UnsafeStore("the quarantine manifest names files outside the store's blobs/ and manifests/",
                          where=where, hint="inspect it by hand; nothing was moved")
    moves = [(batch / "files" / e["rel"], root / e["rel"]) for e in data["files"]]
    blocked = [str(dst) for src, dst in moves if dst.exists() and src.exists()]
    if blocked:
        raise MigrationError("files are in the way of the restore", where=str(root), detail="\n".join(blocked),
                             hint="the model was pulled again? then purge the quarantine instead")
    for src, dst in reversed(moves):  # blobs before the manifest: the model appears only when whole
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dst)
            log("restored", path=str(dst))
    shutil.rmtree(batch)
    return data


def purge(qdir: Path, older_than_s: float, log, dry_run: bool = False, only: set[Path] | None = None) -> list[Path]:
    """The batches older than ``older_than_s`` (of ``only``, the ones the operator was shown), deleted."""
    now, gone = time.time(), []
    for batch in batches(qdir):
        data = read_batch(batch)
        if now - data["time"] >= older_than_s and (only is None or batch in only):
            gone.append(batch)
            if not dry_run:
                shutil.rmtree(batch)
                log("purged", path=str(batch), model=data["model"],
                    bytes=sum(e["bytes"] for e in data["files"]))
    return gone
