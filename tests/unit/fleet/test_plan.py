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
    rollout = plan.make(inv(**{"stop_after": 2, **changes}), 2, now, "1.0")
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


def test_hosts_that_cannot_move_spending_the_budget_refuse_the_rollout_before_anything_moves():
    now = at(1, h3=plan.HostNow("h3", problem="unreachable: timed out"))
    assert plan.make(inv(stop_after=2), 2, now, "1.0").refusals == []
    refused = plan.make(inv(), 2, now, "1.0")
    assert refused.refusals == ["1 host(s) cannot move and the failure budget (stop_after) is 1: fix them, or take "
                                "them out of the inventory, first"]


def test_a_canary_that_cannot_move_refuses_the_rollout():
    now = at(1, h1=plan.HostNow("h1", problem="unreachable: timed out"))
    assert "the canary h1 cannot move: no host moves before its canary" in plan.make(inv(stop_after=5), 2, now, "1.0").refusals


@pytest.mark.parametrize("backward, stage, now, words", [
    (True, 3, at(1), "a rollback never moves a host forward"),
    (True, 1, at(None), "it is at stage ?: a rollback never moves a host forward"),
    (False, 1, at(2), "it is at stage 2, past 1: use fleet.rollback --to 1"),
])
def test_a_host_is_never_moved_the_wrong_way(backward, stage, now, words):
    rollout = plan.make(inv(stop_after=10, canary=[]), stage, now, "1.0", backward=backward)
    assert rollout.batches == [] and all(words in why for why in rollout.blocked.values()), rollout.blocked


def test_a_host_whose_health_gate_failed_at_the_stage_is_gated_again_not_taken_as_there():
    outcomes = {"h1": {"result": plan.GATE_FAILED, "stage": 2}, "h2": {"result": "moved", "stage": 2}}
    now = at(1, h1=plan.HostNow("h1", version="1.0", target="compose-env", stage=2),
             h2=plan.HostNow("h2", version="1.0", target="compose-env", stage=2))
    rollout = plan.make(inv(), 2, now, "1.0", outcomes=outcomes)
    assert rollout.regate == ["h1"] and rollout.there == ["h2"] and not rollout.nothing_to_do
    assert "h1: compose-env at stage 2 (its health gate failed there: gated again first)" in plan.describe(rollout)
