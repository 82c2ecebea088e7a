"""Thin adapter over the docker SDK: one client, and a clear error when the engine is away."""
from __future__ import annotations

import contextlib
import datetime
from dataclasses import dataclass

from core.errors import DockerError
from adapters.compose import ONEOFF_LABEL, labels


def client():
    import docker  # lazy: `invoke --list` must not pay for it
    try:
        c = docker.from_env(timeout=30)
        c.ping()
        return c
    except Exception as exc:  # the SDK raises several unrelated types for "not reachable"
        raise DockerError("the Docker engine is not reachable", where="DOCKER_HOST or /var/run/docker.sock",
                          detail=str(exc)[:300],
                          hint="start dockerd (or `systemctl start docker`) and check `docker info`") from None


class LazyClient:
    """The client, opened at its first use: a target gets one whether or not it will talk to the
    engine (`invoke health` never does through the SDK, and never pays for importing it)."""

    def __init__(self):
        self._opened = None

    def __getattr__(self, name):
        if self._opened is None:
            self._opened = client()
        return getattr(self._opened, name)


def epoch(text: str | None) -> float | None:
    """Docker's RFC 3339 time (nanoseconds, Z) as Unix seconds; None for none or the zero time."""
    if not text or text.startswith("0001-"):
        return None
    head, _, rest = text.rstrip("Z").partition(".")
    value = datetime.datetime.fromisoformat(head).replace(tzinfo=datetime.timezone.utc).timestamp()
    return value + (float("0." + rest[:9]) if rest and rest[:9].isdigit() else 0.0)


def image_exists(c, tag: str) -> bool:
    import docker
    try:
        c.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def image_platform(c, tag: str) -> tuple[str, str] | None:
    """(the image's architecture, the engine's) as Docker names them (amd64, arm64); None when the
    image is not on this engine."""
    import docker
    try:
        image = c.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    engine = c.info().get("Architecture", "")
    return image.attrs.get("Architecture", ""), ENGINE_ARCH.get(engine, engine)


def engine_architecture(c) -> str:
    """The engine's architecture as an image names it (amd64, arm64)."""
    engine = c.info().get("Architecture", "")
    return ENGINE_ARCH.get(engine, engine)


ENGINE_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386", "i386": "386",
               "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}   # uname -m -> an image's architecture


@dataclass(frozen=True)
class Volume:
    name: str
    mountpoint: str   # where its data is on the host


def volume_or_none(c, name: str) -> Volume | None:
    import docker
    try:
        found = c.volumes.get(name)
    except docker.errors.NotFound:
        return None
    return Volume(found.name, found.attrs["Mountpoint"])


def remove_volume(c, name: str) -> None:
    c.volumes.get(name).remove()


@dataclass(frozen=True)
class Container:
    """A container as read once: enough to judge it and to act on it by name."""
    name: str
    status: str          # running, exited, created, ...
    pid: int | None      # its main process on the host while it runs


def container(c, name: str) -> Container | None:
    found = inspect_or_none(c, name)
    if found is None:
        return None
    s = found["State"]
    return Container(name, s.get("Status", ""), s.get("Pid") or None)


@contextlib.contextmanager
def _said(action: str, name: str):
    """The SDK's own errors (docker.errors.*, requests') as a DockerError naming what failed."""
    try:
        yield
    except Exception as exc:   # the SDK raises several unrelated types
        raise DockerError(f"{action} failed: {str(exc)[:300]}", where=f"container {name}",
                          hint="check the engine (`docker ps -a`, `docker info`) and run the same command again") from None


def stop(c, name: str, timeout: int) -> None:
    with _said("stopping it", name):
        c.containers.get(name).stop(timeout=timeout)


def container_state(c, name: str) -> dict | None:
    """A container's State as `docker inspect` gives it, read now; None: no such container."""
    found = inspect_or_none(c, name)
    return found["State"] if found is not None else None


def start(c, name: str) -> None:
    c.containers.get(name).start()


def restart(c, name: str, timeout: int) -> None:
    c.containers.get(name).restart(timeout=timeout)


def remove(c, name: str, *, force: bool = True) -> None:
    with _said("removing it", name):
        c.containers.get(name).remove(force=force)


def logs_tail(c, name: str, lines: int = 20) -> str:
    """A container's last log lines ("" when they cannot be read)."""
    try:
        return c.containers.get(name).logs(tail=lines).decode("utf-8", "replace")
    except Exception:   # the SDK raises several unrelated types; the logs are a courtesy
        return ""


def inspect_or_none(c, name: str) -> dict | None:
    """A container's inspect data (as `docker inspect` gives it: Name, State, Config.Labels, ...)."""
    import docker
    try:
        return c.containers.get(name).attrs
    except docker.errors.NotFound:
        return None


def project_inspects(c, project: str, service: str | None = None, *, all: bool = True) -> list[dict]:
    """The inspect data of a Compose project's containers (one service's, if named); as Compose's
    own `ps`, without one-off containers (`docker compose run`)."""
    return [found.attrs for found in c.containers.list(all=all, filters={"label": labels(project, service)})
            if labels_of(found.attrs).get(ONEOFF_LABEL) != "True"]


def name_of(attrs: dict) -> str:
    return attrs["Name"].lstrip("/")


def labels_of(attrs: dict) -> dict[str, str]:
    return (attrs.get("Config") or {}).get("Labels") or {}


def image_labels(c, tag: str) -> dict[str, str] | None:
    """An image's labels; None when it is not on this engine."""
    import docker
    try:
        return c.images.get(tag).labels or {}
    except docker.errors.ImageNotFound:
        return None


def image_id(c, tag: str) -> str | None:
    """An image's id; None when it is not on this engine."""
    import docker
    try:
        return c.images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def remove_project(c, project: str) -> list[str]:
    """Remove every container (forced), network and volume that carries the Compose project's
    label; the names of the containers removed."""
    label = labels(project)
    removed = []
    for found in c.containers.list(all=True, filters={"label": label}):
        found.remove(force=True)
        removed.append(found.name)
    for network in c.networks.list(filters={"label": label}):
        network.remove()
    for volume in c.volumes.list(filters={"label": label}):
        volume.remove(force=True)
    return removed
