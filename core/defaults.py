"""The toolkit's production defaults (defaults.yaml, beside tasks.py), given to Invoke as the
collection's own configuration: the lowest level of Invoke's hierarchy, so that every level an
operator writes wins over them, in Invoke's documented order: /etc/invoke.yaml, then
~/.invoke.yaml, then an invoke.yaml beside tasks.py, then INVOKE_MIGRATE_* variables, then the
file given with -f."""
from __future__ import annotations

import os
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parent.parent   # the project: tasks.py, defaults.yaml, compose/
FILE = ROOT / "defaults.yaml"


def load() -> dict:
    return yaml.safe_load(FILE.read_text())


def files_read(config) -> list[tuple[str, str]]:
    """(level, path) of each config file Invoke read for this run, lowest first. Invoke keeps
    them on its Config as _system_path, _user_path, _project_path and _runtime_path."""
    found = [("defaults", str(FILE))]
    for level in ("system", "user", "project", "runtime"):
        path = getattr(config, f"_{level}_path", None)
        if getattr(config, f"_{level}_found", None) and path and os.path.isfile(os.path.expanduser(path)):
            found.append((level, str(path)))   # (Invoke says found for a missing invoke.py: the file decides)
    return found
