"""The reviewable copy of every stage under compose/stage-N/, rendered from the project's own
defaults.yaml (production defaults, key redacted), so that a reviewer reads what each stage
deploys and a test notices when templates and compose/ disagree."""
from __future__ import annotations

from pathlib import Path

from deploy.render import render
from core import config, defaults
from core.files import atomic_write, read_text

ROOT = Path(__file__).resolve().parent.parent


def project_settings(target: str | None = None) -> config.Settings:
    """The toolkit's defaults.yaml, no key anywhere; ``target`` in place of the one it names."""
    data = defaults.load()
    if target:
        data["migrate"]["target"] = target
    return config.load(data, env={}, deployed_key=False)


def expected() -> dict[Path, str]:
    settings = project_settings()
    return {Path(f"stage-{n}") / name: text
            for n, stage in settings.stages.items()
            for name, text in render(settings, stage, redact=True).items()}


def write_all(out: str | Path, check: bool = False, copies: dict[Path, str] | None = None) -> list[Path]:
    """Paths that differ (of ``copies``, by default this target's); with ``check`` nothing is written."""
    out = ROOT / out if not Path(out).is_absolute() else Path(out)
    changed = []
    for rel, text in (expected() if copies is None else copies).items():
        path = out / rel
        if read_text(path) != text:
            changed.append(path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, text)
    return changed
