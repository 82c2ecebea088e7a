"""Removing or quarantining a model's files, journaled: the journal in the deploy directory
names every path before the first one is touched, so a run that dies half-way is finished by
the next one, which removes only journaled files that no remaining manifest references.
Order follows Ollama: the manifest first, then the blobs."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from decommission.store import Owned, UnsafeStore, check_path, manifest_digests
from sandbox.store import Store
from toolkit.errors import MigrationError
from toolkit.files import atomic_write

JOURNAL = "decommission-journal.json"
BATCH_MANIFEST = "quarantine.json"


def _journal(deploy_dir: Path, data: dict) -> Path:
    path = Path(deploy_dir) / JOURNAL
    atomic_write(path, json.dumps(data, indent=2) + "\n", 0o600)
    return path


def read_journal(deploy_dir: Path) -> dict | None:
    path = Path(deploy_dir) / JOURNAL
    return json.loads(path.read_text()) if path.exists() else None


def _still_referenced(root: Path) -> set[str]:
    refs = set()
    for path in Store(root).manifests().values():
        if not path.is_symlink():
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
    _journal(deploy_dir, {"mode": "delete", "model": found.model, "root": str(root),
                          "files": plan_entries(found), "started": time.time()})
    return finish(deploy_dir, log, root)


def quarantine(deploy_dir: Path, root: Path, found: Owned, qdir: Path, log) -> Path:
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
    finish(deploy_dir, log, root)
    return batch


def finish(deploy_dir: Path, log, store: Path | None = None) -> int:
    """Carry out (or complete) the journaled removal. Returns the bytes freed by this call.

    A journal is a file on disk, so it is not trusted: its root must be the configured store
    (``store``) and every path it names must lie inside that root, before anything is touched."""
    journal = read_journal(deploy_dir)
    if journal is None:
        return 0
    root = Path(journal["root"])
    if store is not None:
        root = check_path(root, store)
    real_root = os.path.realpath(root)
    outside = [e["path"] for e in journal["files"]
               if not os.path.realpath(Path(e["path"]).parent).startswith(real_root + os.sep)]
    if outside:
        raise UnsafeStore("the decommission journal names paths outside the model store",
                          where=str(Path(deploy_dir) / JOURNAL), detail="\n".join(outside[:10]),
                          hint="inspect the journal; remove it by hand once you know how it got there")
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


def restore(batch: Path, log) -> dict:
    """Move a quarantined model's files back. Refuses if anything is in the way."""
    data = json.loads((batch / BATCH_MANIFEST).read_text())
    root = Path(data["root"])
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


def purge(qdir: Path, older_than_s: float, log, dry_run: bool = False) -> list[Path]:
    now, gone = time.time(), []
    for batch in batches(qdir):
        data = json.loads((batch / BATCH_MANIFEST).read_text())
        if now - data["time"] >= older_than_s:
            gone.append(batch)
            if not dry_run:
                shutil.rmtree(batch)
                log("purged", path=str(batch), model=data["model"],
                    bytes=sum(e["bytes"] for e in data["files"]))
    return gone
