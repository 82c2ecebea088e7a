"""The xiaozhi-server target: the upstream server, its data/.config.yaml edited round-trip per
stage, the router added in a Compose override at the split stage, the server restarted and
verified from its log. What orchestration/targets.py's protocol asks, from this package's modules
(the local model's store and container through decommission.local, as every target does)."""
from __future__ import annotations

from adapters import docker_api
from checks import run
from core.config import Settings, Stage
from core.errors import MigrationError
from core.files import read_text
from decommission import local
from decommission.run import Routed
from xiaozhi_server import apply, health, plan, render, router, server_config, stages, status


class XiaozhiServer:
    name = "xiaozhi-server"
    secret_files = render.SECRET_FILES   # their data/.config.yaml among them

    def __init__(self, settings: Settings, client=None):
        self.settings = settings
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = docker_api.client()
        return self._client

    def uses_api(self, stage: Stage) -> bool:
        """From the validate stage on, the server's config file holds the API entry; before it the
        server names only its local entry, whatever the stage's weights say."""
        return stages.holds_key(stage.number)

    def render(self, stage: Stage) -> dict[str, str]:
        made = plan.make(self.settings, self.observe(), stage, allow_skip=True)
        return {change.name: change.new for change in made.files if change.new is not None}

    def observe(self):
        return plan.observe(self.settings, self.client)

    def plan_and_gate(self, stage: Stage, *, force: bool, backward_ok: bool, out, dry_run: bool):
        return apply.plan_and_gate(self.settings, stage, self.client, force, backward_ok, out, dry_run)

    def apply(self, stage: Stage, outcome, *, force: bool, out) -> None:
        apply.apply_plan(self.settings, stage, outcome, self.client, force, out, health.EXTRA)

    def health(self, stage: Stage, **options):
        return run.start(self.settings, stage, extra=health.EXTRA, **options)

    def needs_local_model(self, stage: Stage) -> tuple[str, list[str]]:
        return local.needs_local_model(self.settings, self.client, stage)

    def local_llm_exists(self) -> bool:
        return local.container_exists(self.settings, self.client)

    def routed(self) -> Routed:
        """What the server's config sends the local model: through the router, the weight its
        deployed config gives it (running or not: it routes so once it runs); else all or nothing."""
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
        return status.report(self.settings, self.client)

    def decommission_preview(self, stage: Stage, out) -> int:
        return local.preview(self.settings, self.client, self.routed(), stage, out)
