"""What this target reads of the running world, as frozen records: a container of the server,
the router or the local model, as a plan, status and health read it. Light on purpose: the
health path imports it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Seen:
    """A container as the toolkit read it."""
    state: str | None                # running, exited, restarting, ...
    started: float | None = None     # when it last started (Unix seconds)
    health: str | None = None        # its healthcheck's status (None: it has none)
    name: str = ""
    project: str | None = None       # its Compose project, if any
