"""The console sandbox's image: real MariaDB and Redis from Debian's packages, and the drivers the
manager-api emulator needs, on top of the sandbox image (image/Dockerfile). Built by
`invoke sandbox.build` (every target's image) and by the sandbox's `up` when it is missing or
older than its sources or than the sandbox image it starts from. The build reaches Debian's
archive through apt, as configured in the base image."""
from __future__ import annotations

import hashlib
from pathlib import Path

from adapters import compose, docker_api

TAG = "xiaozhi-console-data:latest"
IMAGE_DIR = Path(__file__).resolve().parent / "image"
LABEL = "xiaozhi.console.sources"


def sources_digest(base_id: str) -> str:
    digest = hashlib.sha256(base_id.encode() + b"\0")
    for path in sorted(p for p in IMAGE_DIR.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(IMAGE_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _base_id(client, sandbox_image: str) -> str:
    return docker_api.image_id(client, sandbox_image) or ""


def up_to_date(client, sandbox_image: str) -> bool:
    base = _base_id(client, sandbox_image)
    return bool(base) and (docker_api.image_labels(client, TAG) or {}).get(LABEL) == sources_digest(base)


def build(sandbox_image: str, *, rebuild: bool = False, out=print) -> None:
    client = docker_api.client()
    if up_to_date(client, sandbox_image) and not rebuild:
        out(f"image {TAG} is up to date with {IMAGE_DIR.name}/ and {sandbox_image}")
        return
    wanted = sources_digest(_base_id(client, sandbox_image))
    compose.run(["docker", "build", "-q", "--build-arg", f"SANDBOX_IMAGE={sandbox_image}", "--label",
                 f"{LABEL}={wanted}", "-t", TAG, str(IMAGE_DIR)], timeout=1200)
    out(f"built {TAG} (MariaDB, Redis, PyMySQL, redis-py from Debian) on {sandbox_image}")
