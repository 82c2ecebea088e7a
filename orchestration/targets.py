"""The seam between a stage move and the kind of stack it moves. A target renders a stage's
files, observes the world, plans and gates, applies (verifying, rolling back by itself), runs
its own health checks, and says what its decommission needs. The move (move.py) sees only this.

Two targets (``migrate.target``): ``compose-env`` (the default), the seed's compose stack whose
llm-service reads LLM_PROVIDER_WEIGHTS; and ``xiaozhi-server``, the upstream xiaozhi-esp32-server,
whose one LLM is picked in data/.config.yaml, with a LiteLLM router in front for the split."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from core.config import Settings, Stage


class Target(Protocol):
    @property
    def secret_files(self) -> set[str]:
        ...
    name: str
    client: object          # the Docker SDK client the target's steps share (opened on first use)

    def render(self, stage: Stage) -> dict[str, str]:
        """The stage's files, by name, as they would be written."""

    def uses_api(self, stage: Stage) -> bool:
        """Whether the stage needs the API key (its files hold it, or its traffic reaches the API)."""

    def observe(self):
        """The world as it is: deployed files, state, containers."""

    def plan_and_gate(self, stage: Stage, *, force: bool, backward_ok: bool, out, dry_run: bool):
        """The plan shown and the gates run; raises when the move is refused. Returns an Outcome."""

    def apply(self, stage: Stage, outcome, *, force: bool, out) -> None:
        """Write, restart, verify; on failure roll back by itself and raise VerifyFailed."""

    def health(self, stage: Stage, **options):
        """Start the target's health probes; returns a function that waits for the Report."""

    def needs_local_model(self, stage: Stage) -> tuple[str, list[str]]:
        """Where the local model a stage sends traffic to is, and what is wrong with it (empty: whole)."""

    def local_llm_exists(self) -> bool:
        """Whether the local LLM's container is still there (to be decommissioned)."""

    def routed(self):
        """What the running stack sends the local LLM now (a decommission precondition)."""

    def status(self) -> str:
        """`invoke status`: the stage, the plan that would converge the world to it, the audit."""

    def decommission_preview(self, stage: Stage, out) -> int:
        """Show what the decommission that follows a verified ``stage`` will do; the bytes it
        would delete for good (0 when it quarantines, or finds nothing)."""


class ComposeEnv:
    """The seed's stack: the operator's docker-compose.yml, with a Compose override and llm.env
    rendered per stage beside it; the weights in llm-service's LLM_PROVIDER_WEIGHTS."""
    name = "compose-env"

    @property
    def secret_files(self) -> set[str]:
        """The files of the deploy dir that hold a key."""
        from deploy.render import SECRET_FILES
        return SECRET_FILES

    def __init__(self, settings: Settings, client=None):
        self.settings = settings
        self._client = client

    @property
    def client(self):
        if self._client is None:
            from adapters import docker_api
            self._client = docker_api.client()
        return self._client

    def render(self, stage: Stage) -> dict[str, str]:
        from adapters.compose import BASE_FILE
        from core.files import read_text
        from deploy.render import render
        return render(self.settings, stage, base=read_text(self.settings.deploy_dir / BASE_FILE))

    def uses_api(self, stage: Stage) -> bool:
        return stage.uses_api

    def observe(self):
        from deploy import plan
        return plan.observe(self.settings, self.client)

    def plan_and_gate(self, stage: Stage, *, force: bool, backward_ok: bool, out, dry_run: bool):
        from deploy import apply
        return apply.plan_and_gate(self.settings, stage, self.client, force, backward_ok, out, dry_run)

    def apply(self, stage: Stage, outcome, *, force: bool, out) -> None:
        from deploy import apply
        apply.apply_plan(self.settings, stage, outcome, self.client, force, out)

    def health(self, stage: Stage, **options):
        from checks import run
        return run.start(self.settings, stage, **options)

    def needs_local_model(self, stage: Stage) -> tuple[str, list[str]]:
        from core.ollama_store import damage
        from decommission.locate import host_store, volume
        if not stage.local_llm:
            return "", []
        store = host_store(self.settings, volume(self.settings, self.client))
        if store is None or not store.is_dir():
            return str(store), []  # not resolvable from here (first deployment): verification judges it
        return str(store), damage(store, self.settings.local_llm.model)

    def local_llm_exists(self) -> bool:
        from adapters import docker_api
        if self.settings.local_llm.on_host:  # not the toolkit's: the plan says how to free it by hand
            return False
        return docker_api.container_or_none(self.client, self.settings.local_llm.container) is not None

    def routed(self):
        """The local provider's weight in the running llm-service (None: no llm-service runs)."""
        from checks.stack import drift_env
        from core.errors import MigrationError
        from core.services import WEIGHTS_SERVICE, WEIGHTS_VARIABLE, parse_weights
        from decommission.run import Routed
        service = self.settings.compose_names[WEIGHTS_SERVICE]
        from adapters import docker_api
        for c in docker_api.project_containers(self.client, self.settings.project, service, all=False):
            text = drift_env(c.attrs, WEIGHTS_SERVICE).get(WEIGHTS_VARIABLE)
            if text is None:
                continue
            try:
                return Routed("llm-service", parse_weights(text).get("local", 0))
            except ValueError as exc:
                raise MigrationError(str(exc), where=f"container {c.name}",
                                     hint="the running llm-service has weights this toolkit cannot read: "
                                          "check it with `invoke status`") from None
        return Routed("llm-service", None)

    def status(self) -> str:
        from deploy import status
        return status.report(self.settings)

    def decommission_preview(self, stage: Stage, out) -> int:
        from decommission import run as decommissioning
        facts = decommissioning.observe(self.settings, self.client, self.routed(), check_api=False)
        qdir = self.settings.decommission.quarantine_dir
        out("then, once the stage is verified, the local LLM is decommissioned:")
        out("\n".join("  " + line for line in decommissioning.describe(
            self.settings, facts, Path(qdir) if qdir else None, purge=False, after_stage=stage).splitlines()))
        found = facts.found
        return found.bytes if found is not None and found.manifest is not None and not qdir else 0


class XiaozhiServerTarget(ComposeEnv):
    """The upstream server: its data/.config.yaml edited round-trip per stage, the router added
    in a Compose override at the split stage, the server restarted and verified from its log.
    The local model's store and container are found as for the compose stack (inherited)."""
    name = "xiaozhi-server"

    @property
    def secret_files(self) -> set[str]:
        """Their data/.config.yaml among them."""
        from xiaozhi_server.render import SECRET_FILES
        return SECRET_FILES

    def uses_api(self, stage: Stage) -> bool:
        """From the validate stage on, the server's config file holds the API entry; before it the
        server names only its local entry, whatever the stage's weights say."""
        from xiaozhi_server import stages
        return stages.holds_key(stage.number)

    def render(self, stage: Stage) -> dict[str, str]:
        from xiaozhi_server import plan
        made = plan.make(self.settings, self.observe(), stage, allow_skip=True)
        return {change.name: change.new for change in made.files if change.new is not None}

    def observe(self):
        from xiaozhi_server import plan
        return plan.observe(self.settings, self.client)

    def plan_and_gate(self, stage: Stage, *, force: bool, backward_ok: bool, out, dry_run: bool):
        from xiaozhi_server import apply
        return apply.plan_and_gate(self.settings, stage, self.client, force, backward_ok, out, dry_run)

    def apply(self, stage: Stage, outcome, *, force: bool, out) -> None:
        from xiaozhi_server import apply, health
        apply.apply_plan(self.settings, stage, outcome, self.client, force, out, health.EXTRA)

    def health(self, stage: Stage, **options):
        from checks import run
        from xiaozhi_server import health
        return run.start(self.settings, stage, extra=health.EXTRA, **options)

    def routed(self):
        """What the server's config sends the local model: through the router, the weight its
        deployed config gives it (running or not: it routes so once it runs); else all or nothing."""
        from core.errors import MigrationError
        from core.files import read_text
        from decommission.run import Routed
        from xiaozhi_server import render, router, server_config, stages
        d = self.settings.deploy_dir
        selected = server_config.selected_llm(server_config.load(read_text(d / render.CONFIG_FILE) or ""))
        if selected == stages.ROUTER_ENTRY:
            try:
                weights = router.weights_of(read_text(d / render.ROUTER_CONFIG) or "")
            except ValueError as exc:
                raise MigrationError(str(exc), where=str(d / render.ROUTER_CONFIG),
                                     hint="the router's config cannot be read: check it with `invoke status`") from None
            return Routed(f"router {self.settings.xiaozhi_server.router_service}", weights.get("local", 0))
        return Routed(f"{render.CONFIG_FILE} (selects {selected})",
                      100 if selected == self.settings.xiaozhi_server.local_entry else 0)

    def status(self) -> str:
        from xiaozhi_server import status
        return status.report(self.settings, self.client)


TARGETS: dict[str, Callable[..., Target]] = {ComposeEnv.name: ComposeEnv,  # config.TARGET_NAMES
                                             XiaozhiServerTarget.name: XiaozhiServerTarget}


def load(settings: Settings, client=None) -> Target:
    """The target ``migrate.target`` names (config has checked the name)."""
    return TARGETS[settings.target](settings, client)
