"""The xiaozhi-server target: the upstream server, its data/.config.yaml edited round-trip per
stage, the router added in a Compose override at the split stage, the server restarted and
verified from its log. What orchestration/targets.py's protocol asks, from this package's modules
(the local model's store and container through decommission.local, as every target does)."""
from __future__ import annotations

from checks import run
from core.config import Settings, Stage
from core.errors import MigrationError
from core.files import read_text
from targets.xiaozhi_server import health, stages
from targets.xiaozhi_server.settings import own

# What only a move needs is imported in the methods that move: `invoke health` loads the target
# for its probes (tests/unit/test_layers.py, LAZY_IMPORTS, says why, for every lazy import).


class XiaozhiServer:
    name = "xiaozhi-server"

    @property
    def secret_files(self) -> set[str]:
        """Their data/.config.yaml among them."""
        from targets.xiaozhi_server.render import SECRET_FILES
        return SECRET_FILES

    def __init__(self, settings: Settings, client):
        self.settings, self.client = settings, client   # opened at first use (orchestration/targets.py)

    def uses_api(self, stage: Stage) -> bool:
        """From the validate stage on, the server's config file holds the API entry; before it the
        server names only its local entry, whatever the stage's weights say."""
        return stages.holds_key(stage.number)

    def render(self, stage: Stage) -> dict[str, str]:
        from targets.xiaozhi_server import plan
        made = plan.make(self.settings, self.observe(), stage, allow_skip=True)
        return {change.name: change.new for change in made.files if change.new is not None}

    def observe(self):
        from targets.xiaozhi_server import plan
        return plan.observe(self.settings, self.client)

    def plan_and_gate(self, stage: Stage, *, force: bool, backward_ok: bool, out):
        from targets.xiaozhi_server import apply
        return apply.plan_and_gate(self.settings, stage, self.client, force, backward_ok, out)

    def apply(self, stage: Stage, outcome, *, force: bool, out) -> None:
        from targets.xiaozhi_server import apply
        apply.apply_plan(self.settings, stage, outcome, self.client, force, out, health.EXTRA)

    def health(self, stage: Stage, **options):
        return run.start(self.settings, stage, extra=health.EXTRA, **options)

    def needs_local_model(self, stage: Stage) -> tuple[str, list[str]]:
        from decommission import local
        return local.needs_local_model(self.settings, self.client, stage)

    def local_llm_exists(self) -> bool:
        from decommission import local
        return local.container_exists(self.settings, self.client)

    def routed(self):
        """What the server's config sends the local model: through the router, the weight its
        deployed config gives it (running or not: it routes so once it runs); else all or nothing."""
        from decommission.run import Routed
        from litellm_router import router
        from targets.xiaozhi_server import render, server_config
        d = self.settings.deploy_dir
        selected = server_config.selected_llm(server_config.load(read_text(d / render.CONFIG_FILE) or ""))
        if selected == stages.ROUTER_ENTRY:
            try:
                weights = router.weights_of(read_text(d / render.ROUTER_CONFIG) or "")
            except ValueError as exc:
                raise MigrationError(str(exc), where=str(d / render.ROUTER_CONFIG),
                                     hint="the router's config cannot be read: check it with `invoke status`") from None
            return Routed(f"router {own(self.settings).router_service}", weights.get("local", 0))
        return Routed(f"{render.CONFIG_FILE} (selects {selected})",
                      100 if selected == own(self.settings).local_entry else 0)

    def status(self) -> str:
        from targets.xiaozhi_server import status
        return status.report(self.settings, self.client)

    def decommission_preview(self, stage: Stage, out) -> int:
        from decommission import local
        return local.preview(self.settings, self.client, self.routed(), stage, out)
