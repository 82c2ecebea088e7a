"""The seam between a stage move and the kind of stack it moves. A target renders a stage's
files, observes the world, plans and gates, applies (through the engine, which verifies and
rolls back), runs its own health checks, and says what its decommission needs. The move
(move.py) sees only this protocol; which targets exist is core/registry.py's table."""
from __future__ import annotations

from typing import Protocol

from adapters import docker_api
from core import registry
from core.config import Settings, Stage


class Target(Protocol):
    @property
    def secret_files(self) -> set[str]:
        ...
    name: str
    client: object          # the Docker SDK client the target's steps share (opened at first use)

    def render(self, stage: Stage) -> dict[str, str]:
        """The stage's files, by name, as they would be written."""

    def uses_api(self, stage: Stage) -> bool:
        """Whether the stage needs the API key (its files hold it, or its traffic reaches the API)."""

    def observe(self):
        """The world as it is: deployed files, state, containers."""

    def plan_and_gate(self, stage: Stage, *, force: bool, backward_ok: bool, out):
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


def load(settings: Settings, client=None) -> Target:
    """The target ``migrate.target`` names (config has checked the name), with ``client`` or one
    that opens at first use."""
    return registry.load(registry.spec(settings.target).implementation)(
        settings, client if client is not None else docker_api.LazyClient())
