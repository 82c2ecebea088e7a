"""Where the local model's store is on this host: a named Compose volume (resolved through the
Engine) or a host path bind-mounted instead (the seed's ``./models``)."""
from __future__ import annotations

import os
from pathlib import Path

from adapters import docker_api
from core.config import Settings


def volume(settings: Settings, client) -> docker_api.Volume | None:
    """The model volume, or None: a bind mount, or not created yet."""
    if settings.local_llm.store_is_path:
        return None
    return docker_api.volume_or_none(client, f"{settings.project}_{settings.local_llm.store_volume}")


def host_store(settings: Settings, found_volume) -> Path | None:
    """The store's path on the host; None when it cannot be known (no volume yet)."""
    ll = settings.local_llm
    if ll.store_host_path:
        return Path(ll.store_host_path)
    inside = os.path.relpath(ll.store_path, ll.store_mount)
    if ll.store_is_path:  # bind mount: relative paths are relative to the compose file
        return (settings.deploy_dir / ll.store_volume).resolve() / inside
    if found_volume is None:
        return None
    return Path(found_volume.mountpoint) / inside
