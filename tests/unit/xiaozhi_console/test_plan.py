"""The console target's plan, from rows built by hand (no database): what each stage changes, column
by column; what it leaves alone (a row edited in the console); what it refuses at adoption; and
that its words never show the key. Rows are written in styles other than ours: MySQL's normalised
JSON, compact JSON, keys in another order."""
import json

import pytest
import yaml

from core import config
from targets.xiaozhi_console import plan as p, tables as t
from targets.xiaozhi_console.access import Access

from ...conftest import ROOT

DATA = yaml.safe_load((ROOT / "defaults.yaml").read_text())
DATA["migrate"]["target"] = "xiaozhi-console"
KEY = "sk-prod-abcdef123456"
L, A = "LLM_OllamaLLM", "LLM_MigrateApiLLM"


def settings(tmp_path, key=KEY, **console):
    console.setdefault("split", "agents")
    data = yaml.safe_load(yaml.safe_dump(DATA))
    data["migrate"]["deploy_dir"] = str(tmp_path)
    data["migrate"]["xiaozhi_console"] = console
    return config.load(data, env={"QWEN_API_KEY": key} if key else {}, deployed_key=False)


def model(mid, kind="LLM", config_json='{"type": "openai"}', default=0, enabled=1):
    return {"id": mid, "model_type": kind, "model_code": mid.split("_", 1)[-1], "model_name": mid, "is_default": default,
            "is_enabled": enabled, "config_json": config_json, "doc_link": None, "remark": None, "sort": 1,
            "creator": None, "create_date": None, "updater": 1, "update_date": "2026-11-02 09:14:03"}


def agent(aid, llm=L, intent="Intent_function_call", mem="Memory_nomem"):
    return {"id": aid, "user_id": 1, "agent_name": f"agent {aid}", "llm_model_id": llm, "intent_model_id": intent,
            "mem_model_id": mem, "updated_at": "2026-11-01 20:30:00"}


def tables(n_local=8, others=2, intent_json='{"llm":"LLM_OllamaLLM","type":"intent_llm"}', **overrides):
    models = {m["id"]: m for m in (
        model("LLM_ChatGLMLLM", default=1),
        model(L, config_json='{"type":"ollama","model_name":"qwen2:7b","base_url":"http://xiaozhi-local-llm:11434"}'),
        model("LLM_DeepSeekLLM"),
        model("Intent_intent_llm", "Intent", intent_json),
        model("Memory_mem_local_short", "Memory", '{"type": "mem_local_short", "llm": "LLM_OllamaLLM"}'))}
    agents = {f"a{i}": agent(f"a{i}", intent="Intent_intent_llm" if i == 0 else "Intent_function_call")
              for i in range(n_local)}
    agents.update({f"d{i}": agent(f"d{i}", llm="LLM_DeepSeekLLM") for i in range(others)})
    templates = {"tpl1": {"id": "tpl1", "agent_name": "湾湾小何", "llm_model_id": L, "sort": 1},
                 "tpl2": {"id": "tpl2", "agent_name": "星际游子", "llm_model_id": "LLM_ChatGLMLLM", "sort": 2}}
    devices = tuple((f"02:00:00:00:00:{i:02x}", aid) for i, aid in enumerate(agents))
    tb = t.Tables(models, agents, templates, devices)
    for name, value in overrides.items():
        getattr(tb, name).update(value)
    return tb


def world(tb, state=None, local_state="running", files=None, router=None):
    return p.ConsoleWorld(state, Access(None, None, "secret"), tb, "", p.Started("running", 1e9), local_state, "ollama",
                          files=files or {}, router=router)


def walk(tmp_path, to, tb=None, split_state=None, **console):
    """The plan to stage ``to`` after the stages before it were applied to ``tb`` (the rows as the plans wrote them)."""
    s = settings(tmp_path, **console)
    tb = tb or tables()
    state = None
    for n in range(0, to + 1):
        plan = p.make(s, world(tb, state), s.stage(n), s.api_key)
        assert not plan.problems, plan.problems
        if n == to:
            return s, tb, state, plan
        apply_rows(tb, plan)
        state = {"stage": n, "console": plan.baseline, "chosen": list(plan.chosen) or None}


def apply_rows(tb, plan):
    for change in plan.sets:
        rows = getattr(tb, {t.MODELS: "models", t.AGENTS: "agents", t.TEMPLATES: "templates"}[change.table])
        for before, after in zip(change.before, change.after):
            if after is None:
                del rows[before["id"]]
            else:
                rows[after["id"]] = dict(after)


def test_adoption_changes_no_row_and_records_the_baseline(tmp_path):
    s = settings(tmp_path)
    plan = p.make(s, world(tables()), s.stage(0))
    assert not plan.sets and not plan.problems
    base = plan.baseline
    assert set(base["agents"]) == {f"a{i}" for i in range(8)} and base["template"] == {"tpl1": L}
    assert base["refs"] == {"Intent_intent_llm": L, "Memory_mem_local_short": L}
    assert base["defaults"] == ["LLM_ChatGLMLLM"] and base["local_enabled"] == 1
    assert KEY not in json.dumps(base)


def test_validate_adds_the_api_model_config_used_by_no_agent(tmp_path):
    s, tb, state, plan = walk(tmp_path, 1)
    (models,) = plan.sets
    assert models.table == t.MODELS and models.before == (None,) and models.ids == [A]
    row = models.after[0]
    assert row.keys() == tb.models[L].keys()   # every column, as the table has them
    assert json.loads(row["config_json"]) == {"type": "openai", "base_url": s.api.base_url, "model_name": s.api.model,
                                              "api_key": KEY}
    assert row["is_enabled"] == 1 and row["is_default"] == 0
    text = p.describe(plan, s)
    assert KEY not in text and "created" in text and "no restart" in text


def test_the_split_moves_the_hashed_share_of_the_agents_and_only_llm_model_id(tmp_path):
    s, tb, state, plan = walk(tmp_path, 2)
    (agents,) = plan.sets
    assert set(agents.ids) == set(plan.chosen) == set(p.chosen_agents(state["console"]["agents"], 70))
    assert len(plan.chosen) == 6   # round(8 * 0.7)
    for before, after in zip(agents.before, agents.after):
        assert {k for k in before if before[k] != after[k]} == {"llm_model_id"} and after["llm_model_id"] == A


def test_the_same_agents_are_chosen_whatever_order_the_rows_come_in():
    ids = [f"agent-{i}" for i in range(20)]
    assert p.chosen_agents(ids, 70) == p.chosen_agents(list(reversed(ids)), 70)
    assert len(p.chosen_agents(ids, 70)) == 14 and p.chosen_agents(ids, 0) == () and len(p.chosen_agents(ids, 100)) == 20


def test_a_re_apply_of_the_split_keeps_the_recorded_set(tmp_path):
    s, tb, state, plan = walk(tmp_path, 2)
    apply_rows(tb, plan)
    recorded = {"stage": 2, "console": plan.baseline, "chosen": ["a0", "a1"]}   # as an earlier run chose
    again = p.make(s, world(tb, recorded), s.stage(2))
    assert again.chosen == ("a0", "a1")


def test_the_cutover_moves_every_reference_and_keeps_their_json_bytes(tmp_path):
    s, tb, state, plan = walk(tmp_path, 3)
    by = {c.table: c for c in plan.sets}
    assert set(by[t.AGENTS].ids) == {f"a{i}" for i in range(8)} - set(state["chosen"])
    assert by[t.TEMPLATES].ids == ["tpl1"]
    models = dict(zip(by[t.MODELS].ids, by[t.MODELS].after))
    assert models["Intent_intent_llm"]["config_json"] == '{"llm":"LLM_MigrateApiLLM","type":"intent_llm"}'
    assert models["Memory_mem_local_short"]["config_json"] == '{"type": "mem_local_short", "llm": "LLM_MigrateApiLLM"}'
    assert models["LLM_ChatGLMLLM"]["is_default"] == 0 and models[A]["is_default"] == 1
    assert models[L]["is_enabled"] == 0 and L in tb.models   # disabled, never deleted
    assert "LLM_DeepSeekLLM" not in models and not {"d0", "d1"} & set(by[t.AGENTS].ids)


def test_the_way_back_to_0_puts_every_owned_value_back_and_removes_the_api_model(tmp_path):
    s, tb, state, plan = walk(tmp_path, 3)
    original = {name: json.loads(json.dumps(getattr(tables(), name))) for name in ("models", "agents", "templates")}
    apply_rows(tb, plan)
    state = {"stage": 3, "console": plan.baseline}
    back = p.make(s, world(tb, state, local_state=None), s.stage(0), KEY, allow_skip=True)
    apply_rows(tb, back)
    assert {name: getattr(tb, name) for name in original} == original
    assert back.local == "ollama"   # the local model's service is started again


@pytest.mark.parametrize("row, edit, note", [
    ("a3", lambda tb: tb.agents["a3"].update(llm_model_id="LLM_DeepSeekLLM"), "agent agent a3 (a3) is on LLM_DeepSeekLLM"),
    ("Intent_intent_llm", lambda tb: tb.models["Intent_intent_llm"].update(
        config_json='{"type": "intent_llm", "llm": "LLM_ChatGLMLLM"}'), "names llm LLM_ChatGLMLLM"),
    ("tpl1", lambda tb: tb.templates["tpl1"].update(llm_model_id="LLM_DeepSeekLLM"),
     "the template tpl1 is on LLM_DeepSeekLLM"),
])
def test_a_reference_the_operator_moved_since_the_adoption_is_left_alone_and_said(tmp_path, row, edit, note):
    s = settings(tmp_path)
    tb = tables()
    state = {"stage": 2, "console": p.make(s, world(tb), s.stage(0)).baseline}
    edit(tb)
    plan = p.make(s, world(tb, state), s.stage(3), KEY)
    assert any(note in n for n in plan.notes), plan.notes
    assert row not in {i for c in plan.sets for i in c.ids}
    assert plan.sets   # the rest still moves


def test_an_agent_put_on_the_local_model_after_the_adoption_takes_part(tmp_path):
    s = settings(tmp_path)
    tb = tables()
    state = {"stage": 2, "console": p.make(s, world(tb), s.stage(0)).baseline}
    tb.agents["late"] = agent("late")
    plan = p.make(s, world(tb, state), s.stage(3), KEY)
    assert "late" in next(c for c in plan.sets if c.table == t.AGENTS).ids


@pytest.mark.parametrize("edit, problem", [
    (lambda tb: tb.models.pop(L), "no model config LLM_OllamaLLM"),
    (lambda tb: tb.models.update({A: model(A)}), "exists already and the toolkit did not add it"),
    (lambda tb: tb.agents.update({f"a{i}": agent(f"a{i}", llm="LLM_DeepSeekLLM") for i in range(8)}),
     "no agent uses LLM_OllamaLLM"),
    (lambda tb: tb.models[L].update(config_json='{"type": "ollama", "model_name": "qwen2.5:14b"}'),
     "runs qwen2.5:14b, but migrate.local_llm.model is qwen2:7b"),
])
def test_adoption_refuses_what_it_cannot_migrate(tmp_path, edit, problem):
    s = settings(tmp_path)
    tb = tables()
    edit(tb)
    plan = p.make(s, world(tb), s.stage(0))
    assert any(problem in x for x in plan.problems), plan.problems and not plan.sets


def test_listed_agents_must_exist_and_be_on_the_local_model(tmp_path):
    s = settings(tmp_path, agents=["a1", "nope", "d0"])
    plan = p.make(s, world(tables()), s.stage(0))
    assert any("nope" in x for x in plan.problems) and any("d0" in x for x in plan.problems)
    ok = settings(tmp_path, agents=["a1", "a2"])
    assert set(p.make(ok, world(tables()), ok.stage(0)).baseline["agents"]) == {"a1", "a2"}


def test_without_a_key_status_sees_the_deployed_api_model_as_converged(tmp_path):
    s, tb, state, plan = walk(tmp_path, 1)
    apply_rows(tb, plan)
    keyless = settings(tmp_path, key="")
    again = p.make(keyless, world(tb, {"stage": 1, "console": plan.baseline}), keyless.stage(1))
    assert not again.sets and again.nothing_to_do


def test_mysql_normalised_json_is_the_same_row():
    a = {"id": "x", "config_json": '{"type": "openai", "api_key": "k", "base_url": "u"}'}
    b = {"id": "x", "config_json": '{"type":"openai","base_url":"u","api_key":"k"}'}
    assert t.same(a, b) and not t.same(a, {**b, "config_json": '{"type":"openai"}'}) and not t.same(a, None)


@pytest.mark.parametrize("text", [
    '{"type": "intent_llm", "llm": "LLM_OllamaLLM"}',
    '{"llm":"LLM_OllamaLLM","type":"intent_llm","note":"LLM_OllamaLLM is ours"}',
    '{ "type" : "intent_llm" ,\n  "llm" : "LLM_OllamaLLM" }',
])
def test_the_llm_reference_is_replaced_and_every_other_byte_kept(text):
    new = t.with_llm(text, L, A)
    assert json.loads(new) == {**json.loads(text), "llm": A}
    assert new.replace(A, L, 1) == text or json.loads(new)["note"] == "LLM_OllamaLLM is ours"


def test_the_cache_keys_of_every_model_config_changed(tmp_path):
    s, tb, state, plan = walk(tmp_path, 3)
    keys = t.cached_keys(plan.sets)
    assert "model:data:Intent_intent_llm" in keys and "model:name:LLM_MigrateApiLLM" in keys
    assert not any("a0" in k for k in keys)   # agents are not cached by manager-api


def test_requests_mode_points_every_agent_at_the_router_and_starts_it_first(tmp_path):
    s, tb, state, plan = walk(tmp_path, 2, split="requests")
    R = "LLM_MigrateRouterLLM"
    by = {c.table: c for c in plan.sets}
    assert set(by[t.AGENTS].ids) == {f"a{i}" for i in range(8)} and {a["llm_model_id"] for a in by[t.AGENTS].after} == {R}
    router_row = dict(zip(by[t.MODELS].ids, by[t.MODELS].after))[R]
    config = json.loads(router_row["config_json"])
    assert config["base_url"] == "http://xiaozhi-router:4000/v1" and config["api_key"].startswith("sk-xiaozhi-router-")
    assert KEY not in router_row["config_json"]   # the server holds the router's master key, never the API key
    files = {name: new for name, old, new in plan.files}
    assert set(files) == {"docker-compose.migrate.yml", "litellm.yaml", "router.env"} and KEY in files["router.env"]
    assert "weight: 30" in files["litellm.yaml"] and "weight: 70" in files["litellm.yaml"]
    assert plan.router == "create"
    text = p.describe(plan, s)
    assert KEY not in text and config["api_key"] not in text and "healthy before any agent" in text


def test_leaving_the_router_stage_removes_its_row_files_and_container(tmp_path):
    s, tb, state, plan = walk(tmp_path, 2, split="requests")
    apply_rows(tb, plan)
    deployed = {name: new for name, old, new in plan.files}
    state = {"stage": 2, "console": plan.baseline}
    nxt = p.make(s, world(tb, state, files=deployed, router=("running", "healthy")), s.stage(3), KEY)
    models = next(c for c in nxt.sets if c.table == t.MODELS)
    assert "LLM_MigrateRouterLLM" in models.ids and dict(zip(models.ids, models.after))["LLM_MigrateRouterLLM"] is None
    assert {name for name, old, new in nxt.files if new is None} == set(deployed) and nxt.router == "remove"
    assert {a["llm_model_id"] for a in next(c for c in nxt.sets if c.table == t.AGENTS).after} == {A}


def test_without_a_key_the_deployed_router_files_are_converged(tmp_path):
    s, tb, state, plan = walk(tmp_path, 2, split="requests")
    apply_rows(tb, plan)
    deployed = {name: new for name, old, new in plan.files}
    keyless = settings(tmp_path, key="", split="requests")
    again = p.make(keyless, world(tb, {"stage": 2, "console": plan.baseline}, files=deployed,
                                  router=("running", "healthy")), keyless.stage(2))
    assert again.nothing_to_do, (again.files, again.sets, again.router)


def test_a_missing_router_image_is_refused_before_anything_changes(tmp_path):
    s, tb, state, plan = walk(tmp_path, 1, split="requests")
    apply_rows(tb, plan)
    w = world(tb, {"stage": 1, "console": plan.baseline})
    nxt = p.make(s, p.ConsoleWorld(**{**w.__dict__, "router_image": False}), s.stage(2), KEY)
    assert any("router.build" in x for x in nxt.problems)


def test_a_model_config_still_named_is_not_removed(tmp_path):
    """At the cut-over the template is on the API model: an agent created in the console then
    copies it. Going back to 0 would delete the row it uses: refused, naming it."""
    s, tb, state, plan = walk(tmp_path, 3)
    apply_rows(tb, plan)
    tb.agents["new"] = agent("new", llm=A)
    back = p.make(s, world(tb, {"stage": 3, "console": plan.baseline}), s.stage(0), KEY, allow_skip=True)
    assert any("removes LLM_MigrateApiLLM" in x and "agent agent new (new)" in x for x in back.problems), back.problems


def test_with_a_list_the_shared_references_stay_while_unlisted_agents_use_the_local_model(tmp_path):
    s, tb, state, plan = walk(tmp_path, 3, agents=["a0", "a1"])
    changed = {i for c in plan.sets for i in c.ids}
    assert plan.expected == {"a0": A, "a1": A}
    assert not {"Intent_intent_llm", "tpl1", L, "LLM_ChatGLMLLM"} & changed
    assert any("not in migrate.xiaozhi_console.agents still use" in n for n in plan.notes)


def test_the_split_set_is_kept_across_the_cutover_and_chosen_anew_below_it(tmp_path):
    s, tb, state, plan = walk(tmp_path, 2)
    tb.agents["late"] = agent("late")
    kept = {"stage": 3, "console": plan.baseline, "chosen": list(plan.chosen)}
    assert p.make(s, world(tb, kept), s.stage(2), KEY).chosen == plan.chosen   # 3 -> 2: the same agents
    empty = {"stage": 2, "console": plan.baseline, "chosen": []}
    assert p.make(s, world(tb, empty), s.stage(2), KEY).chosen == ()            # [] is a choice, not "none yet"
    below = {"stage": 1, "console": plan.baseline, "chosen": ["a0"]}
    assert p.make(s, world(tb, below), s.stage(2), KEY).chosen != ("a0",)       # chosen anew from 1


def test_json_true_is_not_1_for_compare_and_swap():
    assert not t.same({"id": 1, "c": '{"enabled": true}'}, {"id": 1, "c": '{"enabled": 1}'})


def test_an_agent_s_small_model_on_the_local_model_is_said_and_left(tmp_path):
    tb = tables()
    tb.agents["a0"]["slm_model_id"] = L
    s, tb, state, plan = walk(tmp_path, 3, tb=tb)
    assert any("slm_model_id" in n for n in plan.notes)
    assert all(after is None or after.get("slm_model_id") == before.get("slm_model_id")
               for c in plan.sets if c.table == t.AGENTS for before, after in zip(c.before, c.after))
