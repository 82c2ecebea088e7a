"""Keeping the API key out of everything meant for people, logs, diffs and metrics, and finding
it where production keeps it.

Where the key comes from, first found wins: ``migrate.api.key`` (the sandbox's own, never a real
one), ``QWEN_API_KEY``, ``DASHSCOPE_API_KEY``, then the deployed ``llm.env`` (so that cron, which
has no key in its environment, and `sudo`, which drops it, still check the API). That file is
read only when it is a regular file owned by root or this user and unreadable to group and
others. Every key found is registered: ``redact`` masks each in every form Python may print it."""
from __future__ import annotations

import io
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.registry import KeyPlace

KEY_PLACEHOLDER = "<redacted: set QWEN_API_KEY or DASHSCOPE_API_KEY>"
KEY_VARIABLES = ("QWEN_API_KEY", "DASHSCOPE_API_KEY")
_known: set[str] = set()
_SECRET_LINE = re.compile(r"^(\s*(?:export\s+)?[A-Za-z0-9_]*(?:API_KEY|MASTER_KEY)\s*=)(.*)$", re.M)


def register(secret: str) -> None:
    if secret:
        _known.add(secret)


def _forms(secret: str) -> set[str]:
    # repr() escapes a quote or a backslash; ascii() and JSON escape anything non-ASCII.
    forms = {secret, repr(secret)[1:-1], ascii(secret)[1:-1], json.dumps(secret)[1:-1]}
    return {f for f in forms if len(f) >= 4}


def redact(text: str, key: str = "") -> str:
    """``text`` with every registered secret (and ``key``) replaced by the placeholder."""
    for secret in sorted(_known | ({key} if key else set()), key=len, reverse=True):
        for form in _forms(secret):
            text = text.replace(form, KEY_PLACEHOLDER)
    return text


def redact_tree(value):
    """``value`` (JSON-like: dicts, lists, strings) with ``redact`` applied to every string in it,
    keys included: what leaves the host (an alert's payload) gets the same masking as stdout."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_tree(k): redact_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_tree(v) for v in value]
    return value


_KEY_SHAPE = re.compile(r"\bsk-[A-Za-z0-9]{16,}")   # a DashScope key's shape (or any OpenAI-style one)
_KEY_SETTING = re.compile(r"""(\b\w*(?:API_KEY|MASTER_KEY)\s*[=:]\s*)(?:'[^']*'|"[^"]*"|[^\s|,;'"]+)""")


def mask_key_shapes(text: str) -> str:
    """``text`` from elsewhere (another host's output), whose keys this run cannot know: anything
    shaped like a key, and the value of every ``*API_KEY=`` (or ``:``) anywhere in a line, masked."""
    return _KEY_SETTING.sub(r"\1<redacted>", _KEY_SHAPE.sub("<redacted>", text))


def mask_env_lines(text: str, compare_to: str | None = None) -> str:
    """Every ``*API_KEY=`` value masked, whatever it is (a diff's old side may hold a key this run
    never learnt). With ``compare_to``, a value that differs from the one there says so."""
    theirs = dict(_SECRET_LINE.findall(compare_to)) if compare_to is not None else {}

    def mask(match: re.Match) -> str:
        name, value = match.group(1), match.group(2)
        if not value.strip():
            return name
        differs = name in theirs and theirs[name] != value
        return name + ("<redacted: a different key>" if differs else "<redacted>")
    return _SECRET_LINE.sub(mask, text)


def check_key(value: str, source: str) -> str:
    """The key, stripped; refuses a character no key has, naming its position, never the value."""
    value = value.strip()
    for i, ch in enumerate(value, 1):
        if not 32 <= ord(ch) < 127:
            raise ConfigError(f"character {i} of the key is not printable ASCII (U+{ord(ch):04X})", where=source,
                              hint="paste the key again from the DashScope console; a key has no control "
                                   "or non-ASCII characters")
    return value


@dataclass(frozen=True)
class Found:
    key: str = field(repr=False)
    source: str      # where it came from, or why none was taken


def read_private(path: Path | str, limit: int = 1 << 20) -> tuple[str | None, str]:
    """(text, '') of a file only its owner may read, owned by root or this user; else (None, why).
    A symlink is never followed: a secret is read where it was put, not where a link points."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None, f"{path} does not exist"
    except OSError as exc:
        return None, f"{path} cannot be read ({exc.strerror}; a symlink is never followed)"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, f"{path} is not a regular file"
        if info.st_mode & 0o077 or info.st_uid not in (0, os.geteuid()):
            return None, (f"{path} is readable by group/others or owned by another user "
                          f"(mode {stat.S_IMODE(info.st_mode):04o}): chmod 600 it")
        with io.open(fd, closefd=False, encoding="utf-8", errors="replace") as fh:
            return fh.read(limit), ""
    finally:
        os.close(fd)


def deployed_key(deploy_dir: Path, place: KeyPlace) -> Found:
    """The key in the deployed file that holds it, if that file is private to its owner."""
    path = Path(deploy_dir) / place.file
    if not path.exists() and not path.is_symlink():
        return Found("", f"no key: set QWEN_API_KEY (nothing deployed in {path} yet)")
    text, problem = read_private(path)
    if text is None:
        return Found("", f"no key taken: {problem}")
    key = place.read(text)
    return Found(check_key(key, str(path)), f"deployed {path}") if key else Found("", f"no key in {path}")


def find_key(configured: str, env: Mapping[str, str], deploy_dir: Path | None, place: KeyPlace) -> Found:
    if configured.strip():
        found = Found(check_key(configured, "migrate.api.key"), "migrate.api.key (sandbox only)")
    else:
        name = next((n for n in KEY_VARIABLES if env.get(n, "").strip()), None)
        if name:
            found = Found(check_key(env[name], name), name)
        elif deploy_dir is not None:
            found = deployed_key(deploy_dir, place)
        else:
            found = Found("", "no key: set QWEN_API_KEY or DASHSCOPE_API_KEY")
    register(found.key)
    return found


class RedactingStream(io.TextIOBase):
    """A text stream that masks every registered secret on its way to ``inner``."""

    def __init__(self, inner):
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(redact(text) if _known else text)
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()
