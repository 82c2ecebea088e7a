"""A small, read-only, async view of the Docker daemon's API over its socket, for the health
checks: importing the docker SDK (requests, urllib3) costs more than the checks themselves. It is
also the toolkit's one reader of container logs (``read_logs`` for synchronous callers). Writes
always go through the docker SDK (adapters/docker_api.py) or the Compose CLI."""
from __future__ import annotations

import asyncio
import json
import os
import time
from urllib.parse import quote

from adapters import http
from adapters.compose import ONEOFF_LABEL
from core.errors import DockerError


def _endpoint() -> tuple[str, str | None]:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        return "http://docker", host[len("unix://"):]
    if host.startswith("tcp://") and not os.environ.get("DOCKER_TLS_VERIFY"):
        return "http://" + host[len("tcp://"):], None
    raise DockerError(f"DOCKER_HOST={host} needs TLS, which this reader does not speak", where="DOCKER_HOST",
                      hint="use the local socket, or run health where it is reachable")


class Engine:
    """Use as ``async with Engine(timeout) as engine``: one client, closed at the end."""

    def __init__(self, timeout: float = 5.0):
        self.base, self.uds = _endpoint()
        self.timeout = timeout
        self._client = http.client(timeout, https=False, uds=self.uds)

    async def __aenter__(self) -> "Engine":
        return self

    async def __aexit__(self, *exc) -> None:
        await self._client.aclose()

    async def _request(self, path: str, params: dict | None):
        try:
            async with http.failures("asking the Docker engine", self.base if not self.uds else ""):
                r = await self._client.get(self.base + path, params=params or None)
        except http.HTTPError as exc:
            raise DockerError("the Docker engine is not reachable", where=self.uds or self.base,
                              detail=str(exc)[:200], hint="start dockerd and check `docker info`") from None
        if r.status_code not in (200, 404):
            raise DockerError(f"engine answered {r.status_code}", where=path, detail=r.text[:200])
        return r

    async def _get(self, path: str, **params):
        r = await self._request(path, params)
        if r.status_code == 404:
            return None
        try:
            return r.json()
        except ValueError:
            raise DockerError("the engine's answer is not JSON", where=path, detail=r.text[:200]) from None

    async def containers(self, labels: list[str]) -> list[dict]:
        """Inspect data (as `docker inspect` gives it) of every container with these labels, but
        Compose's one-offs (a `docker compose run` shell or migration of the operator's is not the
        service), as the SDK reader leaves them out."""
        found = await self._get("/containers/json", all="1", filters=json.dumps({"label": labels})) or []
        found = [item for item in found if (item.get("Labels") or {}).get(ONEOFF_LABEL) != "True"]
        inspected = await asyncio.gather(*(self.inspect(item["Id"]) for item in found))
        return [c for c in inspected if c]

    async def inspect(self, name: str) -> dict | None:
        return await self._get(f"/containers/{quote(name)}/json")

    async def logs(self, name: str, since: float, until: float) -> str | None:
        """stdout and stderr of a container between two times (Unix seconds); None: no such container."""
        r = await self._request(f"/containers/{quote(name)}/logs", {"stdout": "1", "stderr": "1",
                                                                     "since": f"{since:.6f}", "until": f"{until:.6f}"})
        if r.status_code == 404:
            return None
        return demux(r.content)


def read_logs(name: str, since: float, until: float | None = None, timeout: float = 5.0) -> str | None:
    """``Engine.logs`` for a caller outside an event loop (a stage move reading why a server did
    not start); ``until`` defaults to now."""
    async def read():
        async with Engine(timeout) as engine:
            return await engine.logs(name, since, until if until is not None else time.time() + 1)
    return asyncio.run(read())


def demux(raw: bytes) -> str:
    """The text of a log stream: without a TTY the engine frames each chunk with an 8-byte header
    (stream, 0, 0, 0, big-endian length); with one it sends the bytes as they are."""
    if len(raw) < 8 or raw[0] not in (0, 1, 2) or raw[1:4] != b"\0\0\0":
        return raw.decode("utf-8", "replace")
    out, i = [], 0
    while i + 8 <= len(raw):
        size = int.from_bytes(raw[i + 4:i + 8], "big")
        out.append(raw[i + 8:i + 8 + size])
        i += 8 + size
    return b"".join(out).decode("utf-8", "replace")
