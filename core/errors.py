"""One exception root. Each error carries what failed, where, and what to do next; only
``core/cli.py`` (``converted``, around every task) turns them into ``invoke.Exit(message, code)``."""
from __future__ import annotations

import re


class MigrationError(Exception):
    """Root of every error the toolkit raises on purpose."""
    exit_code = 1

    def __init__(self, what: str, *, where: str = "", hint: str = "", detail: str = ""):
        self.what, self.where, self.hint, self.detail = what, where, hint, detail
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [f"{self.where}: {self.what}" if self.where else self.what]
        if self.detail:
            parts.append(self.detail.rstrip())
        if self.hint:
            parts.append(f"next: {self.hint}")
        return "\n".join(parts)


class ConfigError(MigrationError):
    """A setting is missing or invalid; ``where`` is the dotted key."""
    exit_code = 2


class TemplateError(MigrationError):
    """A template failed to render; ``where`` is file:line."""
    exit_code = 2


class Refused(MigrationError):
    """A move or removal that is not safe as asked: nothing was changed."""
    exit_code = 2


class UnsafeStore(Refused):
    """A model store path or content that decommissioning will not touch."""


class LockHeld(MigrationError):
    """Another run holds the deploy directory's lock."""
    exit_code = 4


class GateFailed(MigrationError):
    """A stage's gate did not pass (and --force was not given)."""
    exit_code = 5


class VerifyFailed(MigrationError):
    """The applied stage failed verification; the previous files were restored."""
    exit_code = 6


class DockerError(MigrationError):
    """The Docker engine or Compose failed or is unreachable."""
    exit_code = 3


class DatabaseError(MigrationError):
    """A database or cache (MySQL, Redis) refused, failed or could not be reached."""
    exit_code = 3


class CommandError(DockerError):
    """An external command exited non-zero; ``detail`` holds the tail of its stderr."""

    def __init__(self, argv: list[str], code: int, stderr: str, hint: str = ""):
        self.argv, self.code = argv, code
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        super().__init__(f"command exited {code}", where=" ".join(argv), hint=hint,
                         detail=tail and f"stderr (tail):\n{tail}")


def shown(value) -> str:
    """A config value as an error may show it: a number, a boolean or a short word as it is;
    anything else (it may be a robot's URL or a secret put under the wrong key) by its type and
    size only."""
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        # A word a person types (a kind, a language, a model name): short, no URL, no path, and no
        # run of 8 letters and digits mixed, as keys, tokens and UUIDs have.
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_.:-]{0,19}", value) and not any(
                re.search(r"\d", run) and re.search(r"[A-Za-z]", run) for run in re.findall(r"[A-Za-z0-9]{8,}", value)):
            return repr(value)
        return f"a string of {len(value)} characters (not shown)"
    kind = {dict: "a mapping", list: "a list", tuple: "a list"}.get(type(value), f"a {type(value).__name__}")
    return f"{kind} (not shown)"
