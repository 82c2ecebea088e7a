"""The compose-env target's part of `invoke health`: no probes of its own (the shared ones read
its containers), and its judgement: every stack service running, the local model's container as
the stage wants it, and the services' environment as the stage sets it (drift)."""
from __future__ import annotations

from checks import judge
from checks.model import Result
from checks.run import Extra
from core.config import Settings, Stage


def jobs(settings: Settings, stage: Stage, per: float) -> dict:
    return {}


def containers(settings: Settings, stage: Stage, facts: dict) -> list[Result]:
    return judge.containers(stage, facts["stack"], settings.local_llm.container)


def drift(settings: Settings, stage: Stage, facts: dict) -> list[Result]:
    return [judge.drift(stage, facts["stack"])]


EXTRA = Extra(jobs=jobs, judge=containers, after=drift)   # drift last, as the table has always shown it
