"""The console's drift, judged from rows built by hand: what a move to the stage would still
change is a WARNING naming it; at the cut-over anything left on the local model is CRITICAL,
with the fix that works for the settings (phase, or the list of agents)."""
from checks.model import Status
from targets.xiaozhi_console import health, plan as p

from .test_plan import agent, apply_rows, settings, walk, world


def test_the_rows_as_the_stage_wants_them_are_ok(tmp_path):
    s, tb, state, plan = walk(tmp_path, 2)
    apply_rows(tb, plan)
    assert health.drift(s, s.stage(2), world(tb, {"stage": 2, "console": plan.baseline,
                                                  "chosen": list(plan.chosen)})).status is Status.OK


def test_an_agent_moved_back_by_hand_is_a_warning_naming_the_move(tmp_path):
    s, tb, state, plan = walk(tmp_path, 2)
    apply_rows(tb, plan)
    moved = plan.chosen[0]
    tb.agents[moved]["llm_model_id"] = "LLM_OllamaLLM"
    found = health.drift(s, s.stage(2), world(tb, {"stage": 2, "console": plan.baseline, "chosen": list(plan.chosen)}))
    assert found.status is Status.WARNING and moved in found.actual and "invoke phase --stage 2" in found.actual


def test_an_agent_created_on_the_local_model_after_the_cutover_is_critical(tmp_path):
    s, tb, state, plan = walk(tmp_path, 3)
    apply_rows(tb, plan)
    tb.agents["late"] = agent("late")
    found = health.drift(s, s.stage(3), world(tb, {"stage": 3, "console": plan.baseline}))
    assert found.status is Status.CRITICAL and "late" in found.actual and "invoke phase --stage 3" in found.actual


def test_with_a_list_the_fix_is_the_list(tmp_path):
    s, tb, state, plan = walk(tmp_path, 3, agents=["a0", "a1"])
    apply_rows(tb, plan)
    found = health.drift(s, s.stage(3), world(tb, {"stage": 3, "console": plan.baseline}))
    assert found.status is Status.CRITICAL and "migrate.xiaozhi_console.agents" in found.actual


def test_without_state_or_rows_it_is_unknown(tmp_path):
    s = settings(tmp_path)
    assert health.drift(s, s.stage(0), world(None)).status is Status.UNKNOWN
    assert health.drift(s, s.stage(0), p.ConsoleWorld(None, world(None).access)).status is Status.UNKNOWN
