"""The toolkit's version, as a fleet rollout compares it between hosts (issue 25): the release
number and a digest of the sources that decide what a move does, so that two hosts whose files
differ in any way are told apart even at the same number."""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

RELEASE = "0.31"
ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "adapters", "checks", "engine", "decommission", "compose_stack", "litellm_router", "targets",
            "orchestration", "alerts", "bench", "fleet")
SUFFIXES = (".py", ".j2", ".yaml", ".sql", ".sh")


@functools.lru_cache(maxsize=1)
def toolkit() -> str:
    """RELEASE+DIGEST, e.g. 0.31+3f2a9c1d04b7."""
    digest = hashlib.sha256()
    files = [ROOT / "tasks.py", ROOT / "defaults.yaml", ROOT / "requirements.txt"]
    for package in PACKAGES:
        files += sorted(p for p in (ROOT / package).rglob("*") if p.is_file() and p.suffix in SUFFIXES
                        and "__pycache__" not in p.parts)
    for path in files:
        # line endings as git may check them out on either side: not a difference of the toolkit's
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return f"{RELEASE}+{digest.hexdigest()[:12]}"
