"""The compose-env target: the seed's stack, the operator's docker-compose.yml with a Compose
override and llm.env rendered per stage beside it; the weights in llm-service's
LLM_PROVIDER_WEIGHTS. What orchestration/targets.py's protocol asks, from this package's modules."""
from __future__ import annotations

from adapters.compose import BASE_FILE
from checks import run
from core.config import Settings, Stage
from core.errors import MigrationError
from core.files import read_text
from core.services import WEIGHTS_SERVICE, WEIGHTS_VARIABLE, parse_weights
from targets.compose_env import health

# What only a move needs is imported in the methods that move: `invoke health` loads the target
# for its probes (tests/unit/test_layers.py, LAZY_IMPORTS, says why, for every lazy import).


class ComposeEnv:
    name = "compose-env"

    @property
    def secret_files(self) -> set[str]:
        """The files of the deploy dir that hold a key."""
        from targets.compose_env.render import SECRET_FILES
        return SECRET_FILES

    def __init__(self, settings: Settings, client):
        self.settings, self.client = settings, client   # opened at first use (orchestration/targets.py)

    def render(self, stage: Stage) -> dict[str, str]:
        from targets.compose_env.render import render
        return render(self.settings, stage, base=read_text(self.settings.deploy_dir / BASE_FILE))

    def uses_api(self, stage: Stage) -> bool:
        return stage.uses_api

    def observe(self):
        from targets.compose_env import plan
        return plan.observe(self.settings, self.client)

    def plan_and_gate(self, stage: Stage, *, force: bool, backward_ok: bool, out):
        from targets.compose_env import apply
        return apply.plan_and_gate(self.settings, stage, self.client, force, backward_ok, out)

    def apply(self, stage: Stage, outcome, *, force: bool, out) -> None:
        from targets.compose_env import apply
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
        """The local provider's weight in the running llm-service (None: no llm-service runs); of
        two running (a start-first move stopped half-way), the higher."""
        from adapters import docker_api
        from checks.stack import drift_env
        from decommission.run import Routed
        service = self.settings.compose_names[WEIGHTS_SERVICE]
        weights = []
        for attrs in docker_api.project_inspects(self.client, self.settings.project, service, all=False):
            text = drift_env(attrs, WEIGHTS_SERVICE).get(WEIGHTS_VARIABLE)
            if text is None:
                continue
            try:
                weights.append(parse_weights(text).get("local", 0))
            except ValueError as exc:
                raise MigrationError(str(exc), where=f"container {docker_api.name_of(attrs)}",
                                     hint="the running llm-service has weights this toolkit cannot read: "
                                          "check it with `invoke status`") from None
        return Routed("llm-service", max(weights) if weights else None)

    def status(self) -> str:
        from targets.compose_env import status
        return status.report(self.settings)

    def decommission_preview(self, stage: Stage, out) -> int:
        from decommission import local
        return local.preview(self.settings, self.client, self.routed(), stage, out)
