"""Start-first replacement of a service a move recreates (llm-service), as docker-rollout does: a
new container with the stage's settings starts beside the running one, and only once it is
healthy is the old one told to stop, with its grace period for the requests it serves; so there is
always one answering. Compose cannot do it for a service that has a ``container_name`` (two
containers cannot share it), that publishes a host port (the second could not bind it) or that has
a fixed address: ``why_not`` names that, and such a service is recreated stop-first by `compose up`
as before. The stack must reach the service by its service name (Docker's DNS then gives both
containers' addresses while both run; it does not look at health, so the new one is called as
soon as it listens)."""
from __future__ import annotations

import time

from adapters import compose, docker_api
from core.config import Settings
from core.errors import MigrationError
from core.secrets import redact
from targets.compose_env.plan import FINGERPRINT

_FIXED = ("ipv4_address", "ipv6_address", "mac_address")
READY = ("healthy", "running")   # what _state says of a container that answers


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
    if block.get("mac_address"):
        return "your file gives it mac_address (two containers cannot share it)"
    for network, settings in sorted((block.get("networks") or {}).items()):
        fixed = [key for key in _FIXED if (settings or {}).get(key)]
        if fixed:
            return f"your file gives it a fixed {fixed[0]} on network {network} (two containers cannot share it)"
    return ""


def unguarded(model: dict, service: str, observed_health: str = "") -> str:
    """What to say when a start-first replacement cannot wait for the new container to answer
    (no healthcheck: Compose takes "running" as ready); "" when it has one. ``observed_health``:
    the running container's health status, which an image's own HEALTHCHECK also gives."""
    check = ((model.get("services") or {}).get(service) or {}).get("healthcheck") or {}
    disabled = check.get("disable") or check.get("test") in (["NONE"], "NONE")
    if not disabled and (check.get("test") or observed_health):
        return ""
    return (f"{service} has no healthcheck, so the new one counts as ready once it runs and the old one "
            "is stopped then: add a healthcheck to your file so that it is stopped only once the new one answers")


def start_first(settings: Settings, client, service: str, wanted: str, grace: int, out) -> bool:
    """Replace the running containers of ``service`` that do not carry the fingerprint ``wanted``
    (what the files on disk give it) start-first. False, with a line saying why, when it cannot
    (a stopped or unhealthy container of the service: `compose up` recreates it as usual). Raises
    MigrationError, the old containers still answering and the new ones removed, when the new
    ones are not healthy in time or not on the stage's settings."""
    found = docker_api.project_inspects(client, settings.project, service)
    idle = [docker_api.name_of(a) for a in found if a["State"].get("Status") != "running"]
    if idle:
        out(f"  {service}: stop-first after all: {', '.join(idle)} is not running (Compose recreates it)")
        return False
    ailing = [docker_api.name_of(a) for a in found if _state(a) not in READY]
    if ailing:
        out(f"  {service}: stop-first after all: {', '.join(ailing)} is not healthy now, so a second one could "
            "not be waited for beside it (Compose recreates it)")
        return False
    stale = [docker_api.name_of(a) for a in found if docker_api.labels_of(a).get(FINGERPRINT, "") != wanted]
    if not stale:
        return True
    if len(stale) == len(found):
        _start_beside(settings, client, service, stale, wanted, out)
    for name in stale:
        t0 = time.monotonic()
        out(f"  {service}: telling {name} to stop (up to {grace} s to finish the requests it serves)")
        docker_api.stop(client, name, grace)
        docker_api.remove(client, name)
        out(f"  {service}: {name} stopped after {time.monotonic() - t0:.1f} s and removed")
    return True


def _start_beside(settings: Settings, client, service: str, old: list[str], wanted: str, out) -> None:
    t, t0 = settings.gates.wait_timeout, time.monotonic()
    argv = compose.argv(settings.project, settings.deploy_dir) + [
        "up", "-d", "--no-deps", "--no-recreate", "--scale", f"{service}={2 * len(old)}",
        "--wait", "--wait-timeout", str(t), service]
    out(f"  {service}: starting {len(old)} new container(s) with the stage's settings beside {', '.join(old)}")
    failure = None
    try:
        compose.run(argv, timeout=t + 60)
    except MigrationError as exc:
        failure = exc
    while True:
        new = [a for a in docker_api.project_inspects(client, settings.project, service)
               if docker_api.name_of(a) not in old]
        # `--wait` has been seen to return 0 with a new one still starting: the old ones are told to
        # stop only once the engine itself says each new one is healthy (or running, with no
        # healthcheck), within the same wait_timeout
        ailing = [f"{docker_api.name_of(a)} is {_state(a)}" for a in new if _state(a) not in READY]
        if failure is not None or not ailing or time.monotonic() > t0 + t:
            break
        time.sleep(0.5)
    names = [docker_api.name_of(a) for a in new]
    if failure is None and (len(new) < len(old) or any(docker_api.labels_of(a).get(FINGERPRINT) != wanted
                                                       for a in new)):
        failure = MigrationError(f"Compose started {len(new)} container(s), {len(old)} wanted on the stage's "
                                 "settings", where=" ".join(argv))
    if failure is None and ailing:
        failure = MigrationError(f"Compose said it was up, but after {t} s {', '.join(ailing)}", where=" ".join(argv))
    if failure is None:
        out(f"  {service}: {', '.join(names)} healthy after {time.monotonic() - t0:.1f} s")
        return
    logs = "".join(f"\n{name}, its last lines:\n{docker_api.logs_tail(client, name)}" for name in names)
    # Docker's DNS names a container for the service whether it is healthy or not, so a new one may
    # already be answering: it gets the time one request can take to finish (never the longest
    # grace of all their services), then it goes
    drain = settings.stop_grace_s
    out(f"  {service}: the new one did not come up ({failure.what}); stopping {', '.join(names) or 'nothing'} "
        f"(up to {drain} s for requests it was given) and removing it")
    withdrawn = {name: _withdraw(client, name, drain) for name in names}
    problems = [p for said, _ in withdrawn.values() for p in said]
    stuck = [name for name, (_, removed) in withdrawn.items() if not removed]
    raise MigrationError(f"the new {service} did not come up: {failure.what}", where=failure.where,
                         detail=redact("\n".join([failure.detail.strip(), logs.strip(), *problems]).strip(),
                                       settings.api_key),
                         hint=f"{', '.join(old)} kept running on the settings before and was not told to stop; "
                              + (f"remove {', '.join(stuck)} with `docker rm -f`" if stuck else
                                 f"the new container(s) {', '.join(names) or '(none)'} were removed")
                              + " (their last log lines above)") from None


def _state(attrs: dict) -> str:
    """A running container's health when it has a healthcheck, else its status (running, exited, ...)."""
    state = attrs["State"]
    status = state.get("Status") or "unknown"
    if status != "running":
        return status
    return (state.get("Health") or {}).get("Status") or status


def _withdraw(client, name: str, drain: int) -> tuple[list[str], bool]:
    """Stop a new container that did not come up, then remove it: what went wrong, if anything (the
    move's own failure stays the one raised), and whether it is gone."""
    problems = []
    try:
        docker_api.stop(client, name, drain)
    except MigrationError as exc:   # the removal below is what matters
        problems.append(f"{name} did not stop cleanly: {exc.what}")
    try:
        docker_api.remove(client, name)
    except MigrationError as exc:
        return [*problems, f"{name} could not be removed: {exc.what}"], False
    return problems, True
