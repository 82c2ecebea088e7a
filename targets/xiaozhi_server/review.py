"""The reviewable copy of every stage for the xiaozhi-server target, under
compose/xiaozhi-server/stage-N/: what each stage makes of the example folder in
compose/xiaozhi-server/found/ (their docker-compose.yml and data/.config.yaml), from the project's
own defaults.yaml, with the key and the router's master key redacted (pure but for reading the
example)."""
from __future__ import annotations

from pathlib import Path

from core import composefile, config, defaults
from core.services import LOCAL_LLM_SERVICE
from targets.xiaozhi_server import render as rendering

FOLDER = Path("xiaozhi-server")
FOUND = defaults.ROOT / "compose" / FOLDER / "found"
KEY = "<redacted: the API key>"
MASTER_KEY = "<redacted: the router's master key>"


def expected() -> dict[Path, str]:
    s = config.project_settings("xiaozhi-server")
    found = (FOUND / rendering.CONFIG_FILE).read_text()
    local = rendering.local_service(composefile.services((FOUND / "docker-compose.yml").read_text()),
                                    s.local_llm.container, s.compose_names[LOCAL_LLM_SERVICE])
    copies = {}
    for n, stage in s.stages.items():
        files, _ = rendering.for_stage(s, stage, found, MASTER_KEY, key=KEY, local=local)
        copies.update({FOLDER / f"stage-{n}" / name: text for name, text in files.items() if text is not None})
    return copies
