"""The target seam: migrate.target picks the kind of stack; compose-env is the seed's."""
import dataclasses

import pytest
import yaml

from core import config, registry
from core.errors import ConfigError
from targets.compose_env.render import render
from orchestration import targets

from ...conftest import ROOT

DATA = yaml.safe_load((ROOT / "defaults.yaml").read_text())


def test_every_target_config_accepts_is_implemented():
    for name in registry.names():
        spec = registry.spec(name)
        assert spec.name == name and registry.load(spec.implementation).name == name


def test_compose_env_is_the_default_and_renders_the_stage_files():
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"].pop("target")
    settings = config.load(data, env={})  # production-like: no key anywhere
    target = targets.load(settings, client=object())
    assert target.name == "compose-env" == settings.target
    stage = settings.stage(1)
    assert target.render(stage) == render(settings, stage)
    assert target.needs_local_model(settings.stage(3))[1] == []  # stage 3 sends the local model nothing


@pytest.mark.parametrize("name", ["xiaozhi_server", "Compose-Env", "", "../x", 3])
def test_an_unknown_target_is_refused_naming_the_key(name):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["target"] = name
    with pytest.raises(ConfigError) as caught:
        config.load(data, env={})
    assert caught.value.where == "migrate.target" and "compose-env" in caught.value.hint


class FakeTarget:
    """A second kind of stack, as the seam sees it: its own probes and its own router."""
    name = "compose-env"
    client = "the target's client"

    def __init__(self, settings, client=None):
        self.settings, self.calls = settings, []

    def health(self, stage, **options):
        from checks.model import Result, Status
        from checks.run import Report
        self.calls.append((stage.number, options))
        return lambda: Report(stage, [Result("router.ready", Status.WARNING, "2 ready", "fake router: 1 of 2 ready")], 0.1, 0)

    def routed(self):
        from decommission.run import Routed
        return Routed("LiteLLM router", 30)


@pytest.fixture
def fake_target(monkeypatch, tmp_path):
    made = []

    def make(settings, client=None):
        made.append(FakeTarget(settings, client))
        return made[-1]
    monkeypatch.setitem(registry.TARGETS, "compose-env", dataclasses.replace(registry.spec("compose-env"),
                                                                             implementation=make))
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    return config.load(data, env={}), made


def test_health_runs_the_configured_targets_own_probes(fake_target):
    from orchestration import health
    settings, made = fake_target
    text, code = health.health(settings, stage=2, output="nagios", record=False, timeout=3)
    assert made[0].calls == [(2, {"light": False, "timeout": 3.0, "from_process_start": True})]
    assert code == 1 and "router.ready" in text and "1 of 2 ready" in text


def test_decommission_asks_the_target_what_still_reaches_the_local_llm(fake_target, monkeypatch):
    from decommission import run
    from orchestration import move
    settings, made = fake_target
    seen = {}
    monkeypatch.setattr(run, "decommission", lambda s, routed, **kw: seen.update(routed=routed(), **kw) or {})
    move.decommission(settings, dry_run=True)
    assert seen["routed"] == run.Routed("LiteLLM router", 30) and seen["client"] == "the target's client"


def test_a_weight_routed_elsewhere_is_named_in_the_refusal():
    from decommission import run
    facts = run.Facts(container=None, volume=None, store=None, found=None, routed=run.Routed("LiteLLM router", 30),
                      api_ok=True, api_detail="")
    assert run._refusals(None, facts) == ["the running LiteLLM router still sends weight 30 to the local LLM: "
                                          "move to stage 3 first (`invoke phase --stage 3`)"]


def test_each_registered_target_is_its_own_class_with_the_whole_protocol():
    """One registry line per target; no target inherits from another (issue 22)."""
    import inspect
    classes = []
    for name in registry.names():
        cls = registry.load(registry.spec(name).implementation)
        assert cls.name == name
        missing = [m for m in ("render", "uses_api", "observe", "plan_and_gate", "apply", "health",
                               "needs_local_model", "local_llm_exists", "routed", "status", "decommission_preview")
                   if not callable(getattr(cls, m, None))]
        assert not missing, (name, missing)
        classes.append(cls)
    for cls in classes:
        assert not any(issubclass(cls, other) for other in classes if other is not cls), cls
        assert inspect.getmro(cls)[1:] == (object,), cls


def test_a_target_without_a_sandbox_is_refused_by_the_rehearsal_and_skipped_by_the_build(monkeypatch):
    """A registered target need not have a sandbox: the rehearsal says so instead of a traceback."""
    from rehearsal import demo
    bare = dataclasses.replace(registry.spec("compose-env"), name="bare", sandbox_steps="", sandbox_config="")
    monkeypatch.setitem(registry.TARGETS, "bare", bare)
    with pytest.raises(ConfigError, match="the target bare has no sandbox"):
        registry.sandbox_of("bare")
    with pytest.raises(ConfigError, match="no sandbox for the target 'bare'") as err:
        demo.settings(None, "bare")
    assert "compose-env" in err.value.hint and "bare" not in err.value.hint
    with pytest.raises(ConfigError, match="unknown target 'nope'"):
        demo.settings(None, "nope")
