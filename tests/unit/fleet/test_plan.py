"""Issue 25's rollout plan, pure: the canary alone first, then batches; hosts there already,
unreachable or half-moved are named (a host that cannot move counts as a failure), and a host
on another toolkit version refuses the whole rollout."""
import pytest

from fleet import inventory, plan

HOSTS = {f"h{i}": {"host": f"10.0.0.{i}"} for i in range(1, 6)}


def inv(**more):
    return inventory.read({"hosts": HOSTS, "canary": ["h1"], "batch": 2, **more})


def at(stage, **special):
    return {name: special.get(name) or plan.HostNow(name, version="1.0", target="compose-env", stage=stage)
            for name in HOSTS}


SCENARIOS = [
    # id, inventory changes, hosts now, batches, there, blocked
    ("canary, then batches of two", {}, at(1), [["h1"], ["h2", "h3"], ["h4", "h5"]], [], []),
    ("a share: 50% of the four after the canary", {"batch": "50%"}, at(1), [["h1"], ["h2", "h3"], ["h4", "h5"]], [], []),
    ("resumed: the canary and h2 moved", {}, at(1, h1=plan.HostNow("h1", version="1.0", stage=2),
                                                h2=plan.HostNow("h2", version="1.0", stage=2)),
     [["h3", "h4"], ["h5"]], ["h1", "h2"], []),
    ("an unreachable host is a failure, not skipped", {}, at(1, h3=plan.HostNow("h3", problem="unreachable: timed out")),
     [["h1"], ["h2", "h4"], ["h5"]], [], ["h3"]),
    ("a half-moved host cannot move", {}, at(1, h4=plan.HostNow("h4", version="1.0", stage=1, pending={"to": 2})),
     [["h1"], ["h2", "h3"], ["h5"]], [], ["h4"]),
    ("no canary", {"canary": []}, at(1), [["h1", "h2"], ["h3", "h4"], ["h5"]], [], []),
    ("every host there", {}, at(2), [], list(HOSTS), []),
]


@pytest.mark.parametrize("changes, now, batches, there, blocked", [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_scenarios(changes, now, batches, there, blocked):
    rollout = plan.make(inv(**changes), 2, now, "1.0")
    assert rollout.batches == batches and rollout.there == there and list(rollout.blocked) == blocked
    assert not rollout.refusals
    text = plan.describe(rollout)
    for name in blocked:
        assert f"{name}: cannot move" in text
    if not batches and not blocked:
        assert "nothing to do" in text


def test_another_toolkit_version_refuses_the_rollout():
    rollout = plan.make(inv(), 2, at(1, h5=plan.HostNow("h5", version="0.9", stage=1)), "1.0")
    assert rollout.refusals == ["h5 runs toolkit 0.9, this one is 1.0: install the same version on every host first"]
    assert "refused: h5 runs toolkit 0.9" in plan.describe(rollout)


def test_the_plan_names_the_canary_and_each_batch():
    text = plan.describe(plan.make(inv(), 2, at(1), "1.0"))
    assert "  canary: h1\n  batch 1: h2, h3\n  batch 2: h4, h5" in text
