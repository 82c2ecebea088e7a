"""The router a target deploys at its split stage: the real LiteLLM proxy, built into a
local image from wheels pinned by hash (litellm/ beside this file). `invoke router.build` builds it
on the operator's host; `sandbox.build` calls the same for the rehearsal. Only the download
reaches the package registry (pip, as configured on this host: its index or mirror); the image is
built with no network on a Debian 12 base (CPython 3.11, which the pinned wheels are for)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from adapters import compose, docker_api
from core import defaults
from litellm_router import TAG
from core.errors import DockerError, MigrationError

ROOT = defaults.ROOT
ROUTER_DIR = Path(__file__).resolve().parent / "litellm"
BASE_IMAGE_SCRIPT = ROOT / "scripts" / "build-base-image.sh"
DEFAULT_BASE = "xiaozhi-base:bookworm"   # Debian 12 with python3, made by debootstrap from this host's apt mirror
LABEL = "xiaozhi.router.sources"
WHEELS = Path(os.environ.get("XIAOZHI_WHEEL_CACHE", Path.home() / ".cache" / "xiaozhi-router-wheels"))
ARCH = "amd64"   # the pinned wheels' (requirements.txt holds one hash per wheel: x86_64's)
PLATFORM = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
            "--abi", "abi3", "--abi", "none", "--platform", "manylinux2014_x86_64", "--platform",
            "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64", "--platform", "any"]


def sources_digest() -> str:
    digest = hashlib.sha256()
    for name in ("Dockerfile", "requirements.txt", "pip.txt"):
        digest.update(name.encode() + b"\0" + (ROUTER_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def download(out=print) -> Path:
    """Every pinned wheel into the cache (pip checks each hash; cached ones are not fetched again)."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "-q", "-d", str(WHEELS),
            *PLATFORM, "-r", str(ROUTER_DIR / "requirements.txt"), "-r", str(ROUTER_DIR / "pip.txt")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise DockerError("the router's wheels could not be downloaded", where=" ".join(argv[:4]),
                          detail=done.stderr.strip()[-1500:],
                          hint="the package registry must be reachable from the host for this one step")
    out(f"router wheels ready in {WHEELS}")
    return WHEELS


def up_to_date(client) -> bool:
    """Whether the router image exists and was built from litellm/ beside this file as it is now."""
    return (docker_api.image_labels(client, TAG) or {}).get(LABEL) == sources_digest()


def check_engine(client) -> None:
    """The pinned wheels are x86_64's: refused on another engine before anything is downloaded."""
    engine = docker_api.engine_architecture(client)
    if engine != ARCH:
        raise MigrationError(f"the router's pinned wheels are for {ARCH}, this engine runs {engine}",
                             where=str(ROUTER_DIR / "requirements.txt"),
                             hint="set your target's router_image (migrate.<target>.router_image) to a LiteLLM proxy image for "
                                  f"{engine} from your registry (pinned by digest), or pin {engine} wheels as "
                                  f"{ROUTER_DIR / 'README.md'} says; nothing was built")


def describe(base_image: str = DEFAULT_BASE, *, rebuild: bool = False, client=None) -> str:
    """What `build` would do, read from the engine only."""
    client = client or docker_api.client()
    if up_to_date(client) and not rebuild:
        return f"image {TAG} is up to date with {ROUTER_DIR.relative_to(ROOT)}/: nothing to build"
    check_engine(client)
    base = ("present" if docker_api.image_exists(client, base_image)
            else "missing: built first with debootstrap from this host's apt mirror")
    return (f"would build {TAG} from {base_image} ({base}), with {len(_pins())} wheels pinned by hash in "
            f"{ROUTER_DIR.relative_to(ROOT)}/ downloaded into {WHEELS} (pip, this host's index), then "
            "`docker build --network none`")


def build(base_image: str = DEFAULT_BASE, *, out=print, rebuild: bool = False, client=None) -> str:
    client = client or docker_api.client()
    if up_to_date(client) and not rebuild:
        out(f"image {TAG} is up to date with {ROUTER_DIR.relative_to(ROOT)}/")
        return TAG
    check_engine(client)
    if not docker_api.image_exists(client, base_image):
        out(f"building the base image {base_image} (debootstrap from this host's apt mirror)")
        compose.run(["bash", str(BASE_IMAGE_SCRIPT), base_image], timeout=900)
    wheels = download(out)
    wanted_files = {line.split("==")[0] for line in _pins()}
    with tempfile.TemporaryDirectory(prefix="xiaozhi-router-build-") as context:
        ctx = Path(context)
        (ctx / "wheels").mkdir()
        for wheel in wheels.glob("*.whl"):
            if _project(wheel.name) in wanted_files:
                shutil.copy2(wheel, ctx / "wheels" / wheel.name)
        shutil.copy2(ROUTER_DIR / "requirements.txt", ctx / "wheels" / "requirements.txt")
        shutil.copy2(ROUTER_DIR / "Dockerfile", ctx / "Dockerfile")
        compose.run(["docker", "build", "-q", "--network", "none", "--build-arg", f"BASE_IMAGE={base_image}",
                     "--label", f"{LABEL}={sources_digest()}", "-t", TAG, str(ctx)], timeout=1800)
    out(f"built {TAG} from {base_image}")
    return TAG


def _pins() -> list[str]:
    lines = []
    for name in ("requirements.txt", "pip.txt"):
        lines += [line.split()[0] for line in (ROUTER_DIR / name).read_text().splitlines()
                  if line.strip() and not line.startswith("#")]
    return lines


def _project(wheel: str) -> str:
    return wheel.split("-")[0].replace("_", "-").lower()
