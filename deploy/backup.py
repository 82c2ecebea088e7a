"""Timestamped backups of the deployed files and state, in ``<deploy>/backups/``; the last N
are kept. Restoring puts the files back byte for byte, with their modes."""
from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path

from deploy.render import FILES
from core.files import atomic_write, read_text
from core.state import STATE

NAMES = (*FILES, STATE)


def save(deploy_dir: Path, keep: int, label: str = "", names: tuple[str, ...] = NAMES) -> Path:
    """Copy ``names`` (paths relative to the deploy directory) that exist into a new backup."""
    root = Path(deploy_dir) / "backups"
    root.mkdir(mode=0o700, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f".{time.time_ns() % 10 ** 9:09d}"
    target = root / (f"{stamp}-{label}" if label else stamp)
    target.mkdir(mode=0o700)
    for name in names:
        source = Path(deploy_dir) / name
        if source.exists():
            (target / name).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    prune(root, keep)
    return target


def prune(root: Path, keep: int) -> None:
    for old in sorted(p for p in root.iterdir() if p.is_dir())[:-keep]:
        shutil.rmtree(old)


def restore(saved: Path, deploy_dir: Path, names: tuple[str, ...] = FILES) -> None:
    """Put back the files the backup holds; remove deployed files it did not have. A file that
    cannot be written (the disk is full: that may be why we are here) is renamed back from the
    backup instead, which needs no space; the backup then lacks it, the deployment has it."""
    for name in names:
        copy, live = saved / name, Path(deploy_dir) / name
        if copy.exists():
            if read_text(live) == copy.read_text() and live.stat().st_mode == copy.stat().st_mode:
                continue
            try:
                atomic_write(live, copy.read_text(), copy.stat().st_mode & 0o7777)
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                os.replace(copy, live)
        elif live.exists():
            os.unlink(live)
