"""The registry of targets: ``migrate.target`` -> the package that implements that kind of
stack. Each package's ``__init__`` holds its TargetSpec and nothing heavy, so that reading the
table costs two small imports; the rest of a target (its plan, its steps, the SDK) is imported
only when that target runs. Nothing else in the toolkit names a target: config, the key's
place, the move, health, the sandbox and the tasks all ask this table.

The next target is one folder under targets/ and one line here (a test may add its own)."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from core.errors import ConfigError

TARGETS: dict[str, "str | TargetSpec"] = {   # name -> its package (or, in a test, its spec); the first is the default
    "compose-env": "targets.compose_env",
    "xiaozhi-server": "targets.xiaozhi_server",
    "xiaozhi-console": "targets.xiaozhi_console",
}


@dataclass(frozen=True)
class KeyPlace:
    """Where a target's deployment keeps the key: a file in the deploy directory, and how to read it."""
    file: str
    read: Callable[[str], str]


@dataclass(frozen=True)
class TargetSpec:
    """What config, the key's lookup and the entry points need of a target before it runs."""
    name: str
    summary: str                  # one line: the stack it moves (the unknown-target error lists them)
    implementation: Any           # "module:Class" of the Target (orchestration/targets.py's protocol), or the class
    key_place: KeyPlace           # where its deployment keeps the key (cron, which has no key, reads it)
    section: str | None = None    # its own settings under migrate:, validated by ``settings``
    settings: Any = None          # "module:function" (or the function) that validates its section
    host_ollama: bool = False     # whether migrate.local_llm.runs_on: host is possible
    sandbox_config: str = ""      # the rehearsal's config file for this target (beside tasks.py)
    sandbox_steps: str = ""       # its sandbox's module: up, build, front, containers, report_lines, ADOPTS_FIRST
    review: str = ""              # "module:function" of its reviewable copies under compose/ (`invoke render`)
    tasks: str = ""               # "module:attr" of an Invoke Collection of its own tasks, if any


def names() -> tuple[str, ...]:
    return tuple(TARGETS)


def default() -> str:
    return next(iter(TARGETS))


def spec(name: str) -> TargetSpec:
    """The spec of a registered target (config has checked the name)."""
    found = TARGETS[name]
    return found if isinstance(found, TargetSpec) else importlib.import_module(found).SPEC


def specs() -> list[TargetSpec]:
    return [spec(name) for name in TARGETS]


def sandbox_of(name: str):
    """The module of a target's sandbox (up, front, containers, build, ADOPTS_FIRST)."""
    found = spec(name).sandbox_steps
    if not found:
        raise ConfigError(f"the target {name} has no sandbox", where="migrate.target",
                          hint="rehearse with a target that has one: " + ", ".join(
                              n for n in TARGETS if spec(n).sandbox_steps))
    return importlib.import_module(found)


def load(dotted: Any) -> Any:
    """The object "package.module:attr" names, imported now (an object given as itself: itself)."""
    if not isinstance(dotted, str):
        return dotted
    module, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module), attr)
