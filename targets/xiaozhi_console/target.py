"""The xiaozhi-console target: upstream's full deployment, its LLM per agent in manager-api's
database. What orchestration/targets.py's protocol asks, from this package's modules (the local
model's store and container through decommission.local, as every target does)."""
from __future__ import annotations

from checks import run
from core.config import Settings, Stage
from targets.xiaozhi_console import health

# What only a move needs is imported in the methods that move: `invoke health` loads the target
# for its probes (tests/unit/test_layers.py, LAZY_IMPORTS, says why, for every lazy import).


class XiaozhiConsole:
    name = "xiaozhi-console"
    @property
    def secret_files(self) -> set[str]:
        """The router's environment file at stage 2 (the key is otherwise in a database row)."""
        from targets.xiaozhi_console.routing import SECRET_FILES
        return SECRET_FILES

    def __init__(self, settings: Settings, client):
        self.settings, self.client = settings, client   # opened at first use (orchestration/targets.py)

    def uses_api(self, stage: Stage) -> bool:
        """From the validate stage on, the API's model config holds the key."""
        return stage.number >= 1

    def render(self, stage: Stage) -> dict[str, str]:
        return {}   # no file: a stage is rows (`invoke phase --dry-run` shows them)

    def observe(self):
        from targets.xiaozhi_console import plan
        return plan.observe(self.settings, self.client)

    def plan_and_gate(self, stage: Stage, *, force: bool, backward_ok: bool, out):
        from targets.xiaozhi_console import apply
        return apply.plan_and_gate(self.settings, stage, self.client, force, backward_ok, out)

    def apply(self, stage: Stage, outcome, *, force: bool, out) -> None:
        from targets.xiaozhi_console import apply
        apply.apply_plan(self.settings, stage, outcome, self.client, force, out)

    def health(self, stage: Stage, **options):
        return run.start(self.settings, stage, extra=health.EXTRA, **options)

    def needs_local_model(self, stage: Stage) -> tuple[str, list[str]]:
        from decommission import local
        return local.needs_local_model(self.settings, self.client, stage)

    def local_llm_exists(self) -> bool:
        from decommission import local
        return local.container_exists(self.settings, self.client)

    def routed(self):
        """What the console still sends the local model: all of it while any agent, the default
        template or an intent/memory config names it (the decommission's precondition), else none."""
        from decommission.run import Routed
        from targets.xiaozhi_console import plan, tables
        from targets.xiaozhi_console.settings import own
        world = plan.observe(self.settings, self.client)
        local = own(self.settings).local_model
        tb = world.tables
        if tb is None:
            return Routed(f"the console's database ({world.problem or 'unreachable'})", 100)
        refs = ([a for a, row in tb.agents.items() if row["llm_model_id"] == local]
                + [f"template {i}" for i, row in tb.templates.items() if row["llm_model_id"] == local]
                + [i for i, row in tb.models.items() if tables.llm_of(row) == local])
        return Routed(f"the console's rows ({len(refs)} reference(s) to {local}"
                      + (f": {', '.join(refs[:5])}" if refs else "") + ")", 100 if refs else 0)

    def status(self) -> str:
        from targets.xiaozhi_console import status
        return status.report(self.settings, self.client)

    def decommission_preview(self, stage: Stage, out) -> int:
        from decommission import local
        return local.preview(self.settings, self.client, self.routed(), stage, out)
