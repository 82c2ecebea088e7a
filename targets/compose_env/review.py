"""The reviewable copy of every stage under compose/stage-N/, rendered from the project's own
defaults.yaml (production defaults, key redacted), so that a reviewer reads what each stage
deploys and a test notices when templates and compose/ disagree."""
from __future__ import annotations

from pathlib import Path

from core import config
from targets.compose_env.render import render


def expected() -> dict[Path, str]:
    settings = config.project_settings()
    return {Path(f"stage-{n}") / name: text
            for n, stage in settings.stages.items()
            for name, text in render(settings, stage, redact=True).items()}
