"""`invoke outage`: only from the stage without the local model, and `--end` only from an outage."""

import pytest
import yaml

from core import config, state
from core.config import OUTAGE
from core.errors import Refused
from orchestration import outage

from ...conftest import ROOT


@pytest.fixture
def settings(tmp_path):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    return config.load(data, env={})


def test_the_outage_stage_sends_everything_local(settings):
    s = settings.stage(OUTAGE)
    assert (s.weights, s.local_llm, s.uses_api, s.name) == ("qwen:0,local:100", True, False, "outage")
    assert s.limits == settings.stage(0).limits and OUTAGE not in settings.stages   # never a stage to walk through


@pytest.mark.parametrize("stage", [None, 0, 1, 2])
def test_an_outage_is_refused_while_the_local_model_still_serves(settings, stage):
    if stage is not None:
        state.write(settings.deploy_dir, stage=stage, since=0)
    with pytest.raises(Refused, match="the outage plan is for the stage without the local model"):
        outage.start(settings, yes=True)


@pytest.mark.parametrize("recorded", [{"stage": 3}, {"stage": 2}, None])
def test_end_is_refused_outside_an_outage(settings, recorded):
    if recorded:
        state.write(settings.deploy_dir, **recorded)
    with pytest.raises(Refused, match="not in an outage"):
        outage.end(settings, yes=True)


def test_phase_does_not_take_the_outage_stage():
    from invoke import Context
    import tasks
    with pytest.raises(Exception) as err:
        tasks.phase(Context(), stage=str(OUTAGE))
    assert "invoke outage" in str(err.value)


def test_the_outage_restarts_at_once_without_waiting_for_quiet(settings, monkeypatch):
    """The API fails now: the conversations are failing already, so the move does not wait for
    them to end (issue 24's quiet wait), as a rollback after a failed verification does not."""
    state.write(settings.deploy_dir, stage=3, since=0)
    seen = {}

    class Target:
        def needs_local_model(self, stage):
            return "", []
    monkeypatch.setattr(outage.targets, "load", lambda s: Target())
    monkeypatch.setattr(outage.move, "phase", lambda s, n, **kw: seen.update(quiet=s.gates.quiet_wait, n=n, **kw)
                        or type("Outcome", (), {"applied": False})())
    outage.start(settings, yes=True, out=lambda *_: None)
    assert seen["quiet"] == 0 and seen["force"] is True and seen["n"] == OUTAGE and settings.gates.quiet_wait == 300
