"""Filesystem adapter: atomic writes that keep the old file's mode and owner, and JSON-lines
logs (audit, health history) appended one whole line at a time."""
from __future__ import annotations

import json
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


def write_files(directory: Path, files: dict[str, str], private=()) -> None:
    """Write each file atomically into ``directory`` (created if missing); names in ``private``
    (they hold the API key) get mode 0600."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        atomic_write(directory / name, text, 0o600 if name in private else None)


def append_json_line(path: Path, entry: dict, mode: int = 0o644) -> None:
    """One write(2) of one line on an O_APPEND descriptor: concurrent writers never interleave."""
    line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_json_lines(path: Path) -> list[dict]:
    """Every record of a JSON-lines file, oldest first; a torn or foreign line is skipped."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records
