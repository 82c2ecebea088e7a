"""The engine's before-images: timestamped backups of what a stage changes (engine/changes.py: the
files, byte for byte with their modes; the rows, as before- and after-images) and the state, in
``<deploy>/backups/``; the last N are kept. Restoring puts the files back byte for byte; the rows
are read back, checked, and handed to the target that writes them.

``backups/`` is the toolkit's own folder: a symlinked one, or one another user owns or may write,
is refused before anything is copied. Only folders named with the toolkit's own stamp are ever
pruned (a folder the operator keeps there is theirs), and never the one just taken. Each backup
has a manifest saying which files existed when it was taken, with their digests: a file the
manifest says existed is put back from its copy or the restore raises, naming what is where; only
a file that did not exist then (one the stage created) is removed."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path

from core.errors import MigrationError
from core.files import atomic_write, check_private_dir, read_bytes
from engine.changes import RowsChange

ROOT = "backups"
ROWS = "rows"   # the folder of a backup that holds the row sets, one JSON file per table
MANIFEST = ".manifest.json"
STAMP = re.compile(r"^\d{8}T\d{6}\.\d{9}(-[A-Za-z0-9_-]+)?$")   # what save() names a backup, and nothing else


class RestoreFailed(MigrationError):
    """A backup cannot give back what it should: nothing was written or removed."""


def root_of(deploy_dir: Path) -> Path:
    """The backups folder, created owner-only if missing; refused when it is a link, or another
    user owns it or may write to it (its contents are the operator's files, the key among them)."""
    root = Path(deploy_dir) / ROOT
    if not os.path.lexists(root):
        root.mkdir(mode=0o700)
    check_private_dir(root, what=f"the backups folder ({ROOT}/ in the deploy directory)")
    return root


def save(deploy_dir: Path, keep: int, names: tuple[str, ...], label: str = "",
         rows: tuple[RowsChange, ...] = ()) -> Path:
    """Copy ``names`` (paths relative to the deploy directory) that exist into a new backup, and
    each row set's before- and after-images, with a manifest of what existed and the digests;
    then prune the oldest of the toolkit's own backups beyond ``keep``."""
    root = root_of(deploy_dir)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f".{time.time_ns() % 10 ** 9:09d}"
    target = root / (f"{stamp}-{label}" if label else stamp)
    target.mkdir(mode=0o700)
    manifest = {}
    for name in names:
        source = Path(deploy_dir) / name
        data = read_bytes(source)
        if data is None:
            manifest[name] = None
            continue
        (target / name).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(target / name, data, source.stat().st_mode & 0o7777)
        manifest[name] = {"sha256": hashlib.sha256(data).hexdigest(), "mode": source.stat().st_mode & 0o7777}
    for i, change in enumerate(rows):   # numbered: two sets of one table are two files, in write order
        data = json.dumps({"table": change.table, "key": change.key, "before": list(change.before),
                           "after": list(change.after)}, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        name = f"{ROWS}/{i:03d}-{_table_file(change.table)}"
        (target / ROWS).mkdir(mode=0o700, exist_ok=True)
        atomic_write(target / name, data, 0o600)
        manifest[name] = {"sha256": hashlib.sha256(data.encode()).hexdigest(), "rows": change.table}
    atomic_write(target / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n", 0o600)
    prune(root, keep, taken=target)
    return target


def ours(root: Path) -> list[Path]:
    """The toolkit's backups in ``root``, oldest first (their stamps sort by time)."""
    return sorted(p for p in root.iterdir() if STAMP.match(p.name) and p.is_dir() and not p.is_symlink())


def prune(root: Path, keep: int, taken: Path | None = None) -> None:
    """Remove the oldest of the toolkit's backups beyond ``keep``; never ``taken``, never a folder
    of someone else's name."""
    backups = [p for p in ours(root) if p != taken]
    for old in backups[:max(len(backups) - max(keep - 1, 0), 0)]:
        shutil.rmtree(old)


def restore(saved: Path, deploy_dir: Path, names: tuple[str, ...]) -> None:
    """Put back the files the backup holds; remove deployed files that did not exist when it was
    taken. Every copy is checked against the manifest first: when one is missing or altered,
    RestoreFailed is raised and nothing is touched. A file that cannot be written (the disk is
    full: that may be why we are here) is renamed back from the backup instead, which needs no
    space; the backup then lacks it, the deployment has it."""
    saved = Path(saved)
    manifest = _manifest(saved)
    entries = {name: _entry(manifest, saved, name) for name in names}
    missing, done = [], set()
    for name, entry in entries.items():
        if isinstance(entry, dict):
            data = read_bytes(saved / name)
            if data is None or (entry.get("sha256") and hashlib.sha256(data).hexdigest() != entry["sha256"]):
                live = read_bytes(Path(deploy_dir) / name)
                if entry.get("sha256") and live is not None and hashlib.sha256(live).hexdigest() == entry["sha256"]:
                    done.add(name)   # already put back (a restore on a full disk moved the copy there)
                else:
                    missing.append(name)
    if missing:
        raise RestoreFailed(f"the backup {saved.name} lacks or has an altered copy of {', '.join(missing)}: "
                            "nothing was restored or removed", where=str(saved),
                            detail="\n".join(f"{n}: the live file {Path(deploy_dir) / n} is "
                                             + ("still there, as the failed stage left it"
                                                if os.path.lexists(Path(deploy_dir) / n) else "absent")
                                             for n in missing),
                            hint=f"compare with an older backup in {saved.parent} and put the file back by hand")
    for name, entry in entries.items():
        copy, live = saved / name, Path(deploy_dir) / name
        if entry == ABSENT:
            if os.path.lexists(live):
                os.unlink(live)
            continue
        if entry == UNKNOWN or name in done:
            continue
        data, mode = read_bytes(copy), copy.stat().st_mode & 0o7777
        if read_bytes(live) == data and live.stat().st_mode & 0o7777 == mode:
            continue
        try:
            atomic_write(live, data, mode)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            os.replace(copy, live)


def saved_rows(saved: Path) -> tuple[RowsChange, ...]:
    """The row sets a backup holds, in the order they were written, each checked against the
    manifest's digest first: one that is missing or altered raises RestoreFailed before any row is
    handed back."""
    saved = Path(saved)
    manifest = _manifest(saved) or {}
    found = []
    for name, entry in sorted(manifest.items()):
        if not (isinstance(entry, dict) and entry.get("rows")):
            continue
        data = read_bytes(saved / name)
        if data is None or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise RestoreFailed(f"the backup {saved.name} lacks or has an altered copy of the rows of {entry['rows']}: "
                                "no row was restored", where=str(saved / name),
                                hint="compare with an older backup and put the rows back by hand")
        held = json.loads(data)
        found.append(RowsChange(held["table"], held["key"], tuple(held["before"]), tuple(held["after"])))
    return tuple(found)


def _table_file(table: str) -> str:
    """A table's name as a file name of its own (no separator, no dot-file)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", table)[:60] + "-" + hashlib.sha256(table.encode()).hexdigest()[:8] + ".json"


ABSENT, UNKNOWN = "absent", "unknown"


def _entry(manifest: dict | None, saved: Path, name: str) -> dict | str:
    """What the backup says of ``name``: its manifest entry (restore it), ABSENT (it did not exist
    then: remove it) or UNKNOWN (never asked for, or an older toolkit's backup without a manifest
    and without the copy: a live file is never removed on a guess)."""
    if manifest is not None and name in manifest:
        return manifest[name] if isinstance(manifest[name], dict) else ABSENT
    return {} if (saved / name).is_file() else UNKNOWN


def _manifest(saved: Path) -> dict | None:
    """The backup's manifest; None for a backup an older toolkit took (it had none)."""
    data = read_bytes(saved / MANIFEST)
    if data is None:
        return None
    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict):
        raise RestoreFailed(f"the manifest of the backup {saved.name} cannot be read: nothing was restored or "
                            "removed", where=str(saved / MANIFEST),
                            hint=f"put the files back by hand from {saved}")
    return manifest
