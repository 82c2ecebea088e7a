"""Filesystem adapter: atomic writes that keep the old file's mode and owner."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from toolkit.errors import MigrationError


def read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def atomic_write(path: Path, text: str, mode: int | None = None) -> None:
    """Temp file in the same directory, fsync, rename over the target, fsync the directory.
    An existing file's owner (and, unless ``mode`` is given, mode) is kept."""
    path = Path(path)
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    want_mode = mode if mode is not None else (old.st_mode & 0o7777 if old else 0o644)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise MigrationError(f"cannot write in {path.parent}: {exc.strerror}", where=str(path),
                             hint="run as a user who may write the deploy directory") from None
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), want_mode)
            if old is not None and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.fchown(fh.fileno(), old.st_uid, old.st_gid)
                except PermissionError:
                    pass  # only root may give a file away; the mode still protects it
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
