"""Scenario table for planning: (recorded stage, running containers, target) -> plan."""
import dataclasses
import pytest
import yaml

from checks import judge
from targets.compose_env import plan as planning
from targets.compose_env.render import fingerprints, render
from core import config

from ...conftest import OPERATOR_FILES, ROOT

SETTINGS = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={"QWEN_API_KEY": "sk-test-123456"})


def world_at(stage: int | None, deployed: int | None = None, state_extra=None, stopped=()):
    """The world as it would be with stage ``deployed`` applied and the state file naming ``stage``."""
    deployed = stage if deployed is None else deployed
    files = render(SETTINGS, SETTINGS.stage(deployed)) if deployed is not None else {}
    prints = fingerprints(files) if files else {}
    env = judge.expected_env(SETTINGS.stage(deployed)) if deployed is not None else {}
    containers = {name: planning.Running(name=name, fingerprint=fp, state="exited" if name in stopped else "running",
                                         env=env.get(name, {})) for name, fp in prints.items()}
    st = None if stage is None else {"stage": stage, **(state_extra or {})}
    return planning.World(files=files, state=st, containers=containers, local_container=None, **OPERATOR_FILES)


def plan_for(world, target, **kw):
    return planning.make(SETTINGS, world, SETTINGS.stage(target), render(SETTINGS, SETTINGS.stage(target)), **kw)


SCENARIOS = [
    # id, world, target, nothing_to_do, recreate, refusals?
    ("same stage", world_at(2), 2, True, [], False),
    ("0 to 1 recreates nothing", world_at(0), 1, False, [], False),
    ("1 to 2 recreates llm-service only", world_at(1), 2, False, ["llm-service"], False),
    ("2 to 3", world_at(2), 3, False, ["asr", "llm-service", "tts", "vad"], False),
    ("3 back to 2 brings local-llm back", world_at(3), 2, False, ["asr", "llm-service", "local-llm", "tts", "vad"], False),
    ("skipping a stage is refused", world_at(1), 3, False, ["asr", "llm-service", "tts", "vad"], True),
    ("a stopped container is recreated", world_at(2, stopped=("vad",)), 2, False, ["vad"], False),
    ("pending run converges", world_at(2, state_extra={"pending": {"to": 2}}), 2, False, [], False),
    ("fresh host at stage 0", world_at(None), 0, False,
     ["asr", "llm-service", "local-llm", "tts", "vad"], False),
    ("fresh host straight to 2 is refused", world_at(None), 2, False,
     ["asr", "llm-service", "local-llm", "tts", "vad"], True),
]


@pytest.mark.parametrize("world, target, idle, recreate, refused", [s[1:] for s in SCENARIOS],
                         ids=[s[0] for s in SCENARIOS])
def test_scenarios(world, target, idle, recreate, refused):
    plan = plan_for(world, target)
    assert plan.nothing_to_do is idle
    assert plan.recreate == recreate
    assert bool(plan.refusals) is refused


def test_force_and_rollback_may_skip():
    assert not plan_for(world_at(1), 3, force=True).refusals
    assert not plan_for(world_at(3), 0, allow_skip=True).refusals


def test_stage_3_leaves_the_local_llm_running_for_decommissioning():
    world = world_at(2)
    world.containers["local-llm"] = dataclasses.replace(world.containers["local-llm"], state="running")
    assert plan_for(world, 3).left_running == ["local-llm"]


def test_observed_stages_and_drift_note():
    world = world_at(2, deployed=0)
    plan = plan_for(world, 3, force=True)
    assert plan.observed == [0, 1]
    assert "the state file says stage 2, the running containers match stage(s) 0, 1" in planning.describe(plan, "")


def test_describe_redacts_the_key_in_diffs():
    text = planning.describe(plan_for(world_at(None), 1, force=True), SETTINGS.api_key)
    assert "sk-test-123456" not in text and "QWEN_API_KEY=<redacted" in text
