"""The reviewable copies of every stage of every target under compose/, each target's from its
own package (its TargetSpec.review): written by `invoke render`, checked by the tests."""
from __future__ import annotations

from pathlib import Path

from core import defaults, registry
from core.files import atomic_write, read_text


def expected() -> dict[Path, str]:
    copies: dict[Path, str] = {}
    for spec in registry.specs():
        if spec.review:
            copies.update(registry.load(spec.review)())
    return copies


def write_all(out: str | Path, check: bool = False, copies: dict[Path, str] | None = None) -> list[Path]:
    """Paths that differ (of ``copies``, by default every target's); with ``check`` nothing is written."""
    out = defaults.ROOT / out if not Path(out).is_absolute() else Path(out)
    changed = []
    for rel, text in (expected() if copies is None else copies).items():
        path = out / rel
        if read_text(path) != text:
            changed.append(path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, text)
    return changed
