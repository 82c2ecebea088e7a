"""The sandbox stack on the host: build its images (with no registry if need be), bring it up
at stage 0 with a model store on its volume, report on it, and take it all down."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from adapters import compose, docker_api
from core import registry
from core.config import Settings, plain
from core.errors import ConfigError, DockerError

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_DIR = ROOT / "sandbox"


@dataclass(frozen=True)
class SandboxSettings:
    image: str
    base_image: str
    local_base_image: str
    key: str = field(repr=False)
    store_size_gb: float
    server_startup_s: float = 0.0   # the emulated server's start-up (its models loading), SANDBOX_STARTUP_S
    llm_front: bool = True          # the seed's stack: llm-service behind a front, no port of its own (start-first)


def sandbox_settings(config) -> SandboxSettings:
    data = (plain(config).get("migrate") or {}).get("sandbox")
    if not isinstance(data, dict):
        raise ConfigError("no sandbox settings", where="migrate.sandbox",
                          hint="run sandbox tasks with the sandbox config: invoke -f sandbox.yaml sandbox.up")
    try:
        return SandboxSettings(image=str(data["image"]), base_image=str(data["base_image"]),
                               local_base_image=str(data["local_base_image"]), key=str(data["key"]),
                               store_size_gb=float(data.get("store_size_gb", 4.4)),
                               server_startup_s=float(data.get("server_startup_s", 0)),
                               llm_front=_flag(data.get("llm_front", True), "migrate.sandbox.llm_front"))
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"missing or invalid {exc}", where="migrate.sandbox") from None


def _flag(value, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{value!r} is not true or false", where=where,
                          hint="true: llm-service reached through a front (moves start the new one first); "
                               "false: llm-service publishes its own port (moves recreate it)")
    return value


def choose_base(client, sb: SandboxSettings, out=print) -> str:
    """The public base image when it is here or can be pulled; otherwise a locally built one."""
    if docker_api.image_exists(client, sb.base_image):
        return sb.base_image
    pulled = subprocess.run(["docker", "pull", "-q", sb.base_image], capture_output=True, text=True)
    if pulled.returncode == 0:
        return sb.base_image
    out(f"cannot pull {sb.base_image} ({pulled.stderr.strip().splitlines()[-1:] or ['no reason']}); "
              f"using the local base image {sb.local_base_image}")
    if not docker_api.image_exists(client, sb.local_base_image):
        compose.run(["bash", str(ROOT / "scripts" / "build-base-image.sh"), sb.local_base_image], timeout=900)
    return sb.local_base_image


SOURCE_LABEL = "xiaozhi.sandbox.sources"


# The core modules the emulators import (standard library only), copied into the image beside sandbox/.
CORE_MODULES = ("__init__.py", "ollama_store.py", "services.py")


def image_sources() -> dict[str, Path]:
    """Every file the image is built from, by its path in the build context."""
    files = {f"sandbox/{p.name}": p for p in sorted(SANDBOX_DIR.iterdir())
             if p.is_file() and (p.suffix == ".py" or p.name == "Dockerfile")}
    files.update({f"core/{name}": ROOT / "core" / name for name in CORE_MODULES})
    # PyYAML's pure-Python modules, for the emulated upstream server (no C extension)
    files.update({f"vendor/yaml/{p.name}": p for p in sorted(Path(yaml.__file__).parent.glob("*.py"))})
    return files


def sources_digest() -> str:
    """A digest of everything the image is built from, stored as a label: an image built from
    older sources is rebuilt, so a stale emulator never answers a test."""
    digest = hashlib.sha256()
    for name, path in image_sources().items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _built_from(client, tag: str) -> str | None:
    found = docker_api.image_labels(client, tag)
    return None if found is None else found.get(SOURCE_LABEL, "")


def build(config, *, out=print, rebuild: bool = False) -> str:
    sb = sandbox_settings(config)
    client = docker_api.client()
    wanted = sources_digest()
    if _built_from(client, sb.image) == wanted and not rebuild:
        out(f"image {sb.image} is up to date with sandbox/ (--rebuild to build it again)")
        return sb.image
    base = choose_base(client, sb, out)
    with tempfile.TemporaryDirectory(prefix="xiaozhi-sandbox-build-") as context:
        for name, path in image_sources().items():  # a small context: never the repo with its .venv
            (Path(context) / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, Path(context) / name)
        compose.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "--label",
                     f"{SOURCE_LABEL}={wanted}", "-f", str(Path(context) / "sandbox" / "Dockerfile"), "-t", sb.image,
                     context], timeout=900)
    out(f"built {sb.image} from {base}")
    return sb.image


def up(config, settings: Settings, *, out=print, wait_timeout: int = 180) -> None:
    """Start the sandbox. A fresh deploy directory gets stage 0; an existing one is started as
    it stands, so that `down` then `up` is not a silent rollback."""
    sb = sandbox_settings(config)
    compose.require_v2()
    client = docker_api.client()
    if _built_from(client, sb.image) != sources_digest():
        build(config, out=out)
    other = docker_api.inspect_or_none(client, settings.local_llm.container)
    owner = docker_api.labels_of(other).get(compose.PROJECT_LABEL) if other else None
    if other and owner != settings.project:
        raise DockerError(f"container {settings.local_llm.container} already exists, owned by "
                          f"{owner or 'no Compose project'}", where="docker ps -a",
                          hint=f"take that stack down first (its project: {owner}) or remove the container")
    registry.sandbox_of(settings.target).up(settings, sb, out=out, wait_timeout=wait_timeout)


def status(settings: Settings) -> str:
    if not (settings.deploy_dir / compose.BASE_FILE).exists():
        return f"no sandbox deployed in {settings.deploy_dir}"
    return compose.run(["docker", "compose", "--project-name", settings.project, "ps", "--all"]).stdout


def down(settings: Settings, *, out=print) -> None:
    """Remove every container, network and volume of the project, and the rendered files."""
    if (settings.deploy_dir / compose.BASE_FILE).exists() and (settings.deploy_dir / compose.OVERRIDE_FILE).exists():
        compose.run(compose.argv(settings.project, settings.deploy_dir)
                    + ["down", "--volumes", "--remove-orphans", "--timeout", "10"], timeout=300)
    # Compose leaves a declared volume that no service uses any more (the model volume at
    # stage 3): whatever still carries the project's label goes too.
    _remove_by_label(settings.project, out)
    if settings.deploy_dir.exists():
        shutil.rmtree(settings.deploy_dir)
    out(f"sandbox project {settings.project} removed")


def _remove_by_label(project: str, out) -> None:
    """Without a compose file, find what the project left through Compose's own labels."""
    try:
        client = docker_api.client()
    except DockerError:
        return
    for name in docker_api.remove_project(client, project):
        out(f"removed container {name}")
