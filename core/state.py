"""State, audit log and lock, all in the deploy directory.

``state.json`` says which stage is deployed and, while a change is under way, which one is
pending: a run that finds ``pending`` knows an earlier run stopped half-way and converges.
``audit.jsonl`` gets one line per event: who, when, from, to, forced, result."""
from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import stat
import time
from contextlib import contextmanager
from pathlib import Path

from core.errors import LockHeld, MigrationError, Refused
from core.files import append_json_line, atomic_write, open_nofollow, read_json_lines

STATE = "state.json"
AUDIT = "audit.jsonl"
LOCK = ".migrate.lock"


def read(deploy_dir: Path) -> dict | None:
    path = Path(deploy_dir) / STATE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise MigrationError(f"unreadable state file: {exc}", where=str(path),
                             hint="restore it from backups/ or remove it; `invoke status` then infers the "
                                  "stage from the running containers") from None


def write(deploy_dir: Path, **fields) -> dict:
    data = {**fields, "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write(Path(deploy_dir) / STATE, json.dumps(data, indent=2) + "\n")
    return data


def current_stage(deploy_dir: Path) -> int | None:
    state = read(deploy_dir)
    return None if state is None else state.get("stage")


def audit(deploy_dir: Path, event: str, **fields) -> dict:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "who": _who(),
             "host": socket.gethostname(), "event": event, **fields}
    append_json_line(Path(deploy_dir) / AUDIT, entry, 0o640)
    return entry


def audit_tail(deploy_dir: Path, n: int = 5) -> list[dict]:
    return read_json_lines(Path(deploy_dir) / AUDIT)[-n:]


def _who() -> str:
    user = os.environ.get("SUDO_USER") or getpass.getuser()
    return user


def lock(deploy_dir: Path):
    """An exclusive flock on the deploy dir's lock file, held for the whole change."""
    return lock_file(Path(deploy_dir) / LOCK)


@contextmanager
def lock_file(path: Path):
    """An exclusive flock on ``path`` for the block; the holder's pid is written in the file.
    LockHeld at once when another process holds it."""
    path = Path(path)
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o600)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)   # truncating it would truncate the file behind its other name
        raise Refused(f"the lock file is {'not a regular file' if not stat.S_ISREG(info.st_mode) else 'hard-linked'}"
                      f" ({info.st_nlink} names): the toolkit truncates it, and would truncate what it is linked to",
                      where=str(path), hint=f"rm {path} (the toolkit makes a new one), then run again; nothing was changed")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise LockHeld(f"another run holds the lock (pid {holder})", where=str(path),
                       hint="wait for it to finish; a lock is released when its process ends") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def when(epoch) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else "?"


def event(entry: dict) -> str:
    """An audit entry in words: stage moves with their real numbers, other events by their fields."""
    words = [entry["event"]]
    if "to" in entry:
        words.append(f"stage {entry['from'] if entry.get('from') is not None else '?'} -> {entry['to']}")
    elif entry.get("path"):
        words.append(str(entry["path"]))
    elif entry.get("name"):
        words.append(str(entry["name"]))
    if entry.get("forced"):
        words.append("FORCED")
    if entry.get("result"):
        words.append(str(entry["result"]))
    return " ".join(words)
