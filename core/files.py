"""Filesystem adapter: atomic writes that keep the old file's mode and owner, and JSON-lines
logs (audit, health history) appended one whole line at a time, keys masked.

Nothing here writes through a symlink: a link planted in the deploy directory must not turn a
write of ours into a write to its target. New files come from mkstemp + rename, appends and locks
open with O_NOFOLLOW."""
from __future__ import annotations

import errno
import json
import os
import pwd
import stat
import tempfile
from pathlib import Path

from core.errors import MigrationError, Refused
from core.secrets import redact


def read_text(path: Path) -> str | None:
    """The file's text as it is on disk: line endings kept (CRLF stays CRLF); None when absent."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def read_bytes(path: Path) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


def atomic_write(path: Path, text: str | bytes, mode: int | None = None) -> None:
    """Temp file in the same directory, fsync, rename over the target, fsync the directory.
    An existing file's owner (and, unless ``mode`` is given, mode) is kept."""
    path = Path(path)
    try:
        old = path.lstat()
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise Refused("not a regular file (a symlink?): the toolkit never writes through one", where=str(path),
                      hint=f"replace it with the file itself (`ls -l {path}` shows what it is)")
    want_mode = mode if mode is not None else (old.st_mode & 0o7777 if old else 0o644)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise MigrationError(f"cannot write in {path.parent}: {exc.strerror}", where=str(path),
                             hint="run as a user who may write the deploy directory") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
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
        (directory / name).parent.mkdir(parents=True, exist_ok=True)   # a name may hold a folder: data/...
        atomic_write(directory / name, text, 0o600 if name in private else None)


def open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
    """os.open that refuses a symlink at ``path`` with a clear error."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the last component is a symlink
            raise Refused("is a symlink: the toolkit never writes through one", where=str(path),
                          hint="remove the link; the toolkit creates the file itself") from None
        raise


def append_json_line(path: Path, entry: dict, mode: int = 0o644) -> None:
    """One write(2) of one line on an O_APPEND descriptor: concurrent writers never interleave.
    Every registered key is masked, whatever field it hides in."""
    line = redact(json.dumps(entry, ensure_ascii=False, separators=(",", ":"))) + "\n"
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def owner_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def dir_problems(path: Path) -> list[str]:
    """Why ``path`` is no folder the toolkit may keep a key in: a symlink, not a folder, owned by
    someone other than root or this user, or writable by group or others (sticky or not: a
    sticky bit stops deleting, not planting). [] when it is fine or does not exist."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return []
    if stat.S_ISLNK(info.st_mode):
        return [f"a symlink (to {os.path.realpath(path)})"]
    if not stat.S_ISDIR(info.st_mode):
        return ["not a folder"]
    problems = []
    if info.st_uid not in (0, os.geteuid()):
        problems.append(f"owned by {owner_name(info.st_uid)}, not by root or this user")
    if info.st_mode & 0o022:
        problems.append(f"writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})")
    return problems


def check_private_dir(path: Path, what: str = "the deploy directory") -> None:
    """Refuse a folder that another user could write to: they could plant links or files that
    the toolkit, run as root, would then act on, or read the key the toolkit writes there."""
    problems = dir_problems(path)
    if problems:
        owner = any(p.startswith("owned by") for p in problems)
        link = any(p.startswith(("a symlink", "not a folder")) for p in problems)
        fix = (f"replace {path} with a real folder" if link else
               " && ".join(([f"chown root: {path}"] if owner else []) +
                           ([f"chmod go-w {path}"] if any(p.startswith("writable") for p in problems) else [])))
        raise Refused(f"{what} is " + " and ".join(problems), where=str(path),
                      hint=f"{fix}, then run again; nothing was changed")


def check_key_path(deploy_dir: Path, name: str) -> None:
    """Every folder from the deploy directory down to the key-bearing file ``name`` (relative to
    it: data/.config.yaml) is private (check_private_dir), and the file, when it exists, is a
    regular file owned by root or this user: the key is never written into another user's file."""
    deploy_dir = Path(deploy_dir)
    for above in reversed(Path(os.path.abspath(deploy_dir)).parents):
        try:
            info = os.stat(above)
        except OSError:
            continue
        if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:   # anyone could swap the folder below
            raise Refused(f"{above}, above the deploy directory, is writable by group or others without the sticky "
                          f"bit (mode {stat.S_IMODE(info.st_mode):04o}): another user could put another folder in "
                          "its place", where=str(deploy_dir), hint=f"chmod go-w {above}, then run again; nothing was "
                                                                   "changed")
    folder = deploy_dir
    check_private_dir(folder)
    for part in Path(name).parent.parts:
        folder = folder / part
        check_private_dir(folder, what=f"the folder {folder.relative_to(deploy_dir)}/ of {name}")
    path = deploy_dir / name
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"{name} is not a regular file (a symlink?): the toolkit never writes the key through one",
                      where=str(path), hint=f"replace it with the file itself (`ls -l {path}`); nothing was changed")
    if info.st_uid not in (0, os.geteuid()):
        raise Refused(f"{name} is owned by {owner_name(info.st_uid)}, not by root or this user: the API key "
                      "would be written into a file another user owns", where=str(path),
                      hint=f"chown root: {path} (or run as its owner), then run again; nothing was changed")


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
