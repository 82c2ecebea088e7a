"""Start-first replacement of a service a move recreates (llm-service), as docker-rollout does: a
new container with the stage's settings starts beside the running one, and only once it is
healthy is the old one told to stop, with its grace period for the requests it serves; so there is
always one answering. Compose cannot do it for a service that has a ``container_name`` (two
containers cannot share it) or that publishes a host port (the second could not bind it):
``why_not`` names that, and such a service is recreated stop-first by `compose up` as before.
The stack must reach the service by its service name (Docker's DNS then gives both containers'
addresses while both run)."""
from __future__ import annotations

import time

from adapters import compose, docker_api
from core.config import Settings
from core.errors import MigrationError
from targets.compose_env.plan import FINGERPRINT


def why_not(model: dict, service: str) -> str:
    """Why the merged model (`docker compose config --format json`) does not let two containers
    of ``service`` run at once; "" when it does."""
    block = (model.get("services") or {}).get(service)
    if block is None:
        return f"{service} is not in the merged model"
    if block.get("container_name"):
        return f"your file gives it container_name: {block['container_name']} (two containers cannot share a name)"
    published = sorted({str(p.get("published")) for p in block.get("ports") or []
                        if isinstance(p, dict) and p.get("published")})
    if published:
        return (f"it publishes host port {', '.join(published)} (a second container could not bind it; "
                "publish a front or proxy instead and let it call the service by name)")
    if str(block.get("network_mode", "")).startswith(("host", "container:", "service:")):
        return f"network_mode: {block['network_mode']} (a second container would share the first's ports)"
    return ""


def unguarded(model: dict, service: str) -> str:
    """What to say when a start-first replacement cannot wait for the new container to answer
    (no healthcheck: Compose takes "running" as ready); "" when it has one."""
    check = ((model.get("services") or {}).get(service) or {}).get("healthcheck") or {}
    if check.get("test") and not check.get("disable") and check.get("test") != ["NONE"]:
        return ""
    return (f"{service} has no healthcheck, so the new one counts as ready once it runs and the old one "
            "is stopped then: add a healthcheck to your file so that it is stopped only once the new one answers")


def start_first(settings: Settings, client, service: str, grace: int, out, *, wanted: str | None = None) -> None:
    """Replace the running containers of ``service`` start-first. ``wanted``: the fingerprint the
    files on disk give it (a container that carries it is current and kept); None: every running
    one is replaced (the plan said it must be). Raises MigrationError, the old containers still
    answering and the new ones removed, when the new ones are not healthy in time."""
    running = [(docker_api.name_of(a), docker_api.labels_of(a).get(FINGERPRINT, ""))
               for a in docker_api.project_inspects(client, settings.project, service, all=False)]
    stale = [name for name, fp in running if wanted is None or fp != wanted]
    if not stale:
        return
    if len(stale) == len(running):
        _start_beside(settings, client, service, [name for name, _ in running], out)
    for name in stale:
        t0 = time.monotonic()
        out(f"  {service}: telling {name} to stop (up to {grace} s to finish the requests it serves)")
        docker_api.stop(client, name, grace)
        docker_api.remove(client, name)
        out(f"  {service}: {name} stopped after {time.monotonic() - t0:.1f} s and removed")


def _start_beside(settings: Settings, client, service: str, old: list[str], out) -> None:
    t, t0 = settings.gates.wait_timeout, time.monotonic()
    argv = compose.argv(settings.project, settings.deploy_dir) + [
        "up", "-d", "--no-deps", "--no-recreate", "--scale", f"{service}={2 * len(old)}",
        "--wait", "--wait-timeout", str(t), service]
    out(f"  {service}: starting {len(old)} new container(s) with the stage's settings beside {', '.join(old)}")
    try:
        compose.run(argv, timeout=t + 60)
    except MigrationError as exc:
        new = [docker_api.name_of(a) for a in docker_api.project_inspects(client, settings.project, service)
               if docker_api.name_of(a) not in old]
        for name in new:
            docker_api.remove(client, name)
        raise MigrationError(f"the new {service} was not healthy within {t} s", where=" ".join(argv),
                             detail=exc.detail or exc.what,
                             hint=f"{', '.join(old)} kept answering throughout; the new container(s) "
                                  f"{', '.join(new) or '(none)'} were removed. `docker compose logs {service}` "
                                  "of the next try shows why it does not start") from None
    new = [docker_api.name_of(a) for a in docker_api.project_inspects(client, settings.project, service, all=False)
           if docker_api.name_of(a) not in old]
    out(f"  {service}: {', '.join(new)} healthy after {time.monotonic() - t0:.1f} s")
