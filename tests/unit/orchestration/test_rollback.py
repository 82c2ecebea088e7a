import pytest
import yaml

from orchestration import move

from core import state
from core import config
from core.errors import Refused

from ...conftest import ROOT


@pytest.fixture
def settings(tmp_path):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    return config.load(data, env={})


@pytest.fixture
def calls(monkeypatch):
    seen = []
    monkeypatch.setattr(move, "phase", lambda settings, n, **kw: seen.append((n, kw)))
    return seen


@pytest.mark.parametrize("current, to, expected", [(3, None, 2), (2, None, 1), (3, 0, 0), (1, 1, 1)])
def test_rollback_targets(settings, calls, current, to, expected):
    state.write(settings.deploy_dir, stage=current)
    move.rollback(settings, to)
    assert calls == [(expected, {"backward_ok": True})]


@pytest.mark.parametrize("current, to, words", [(None, None, "nothing to roll back"), (0, None, "nothing to roll back"),
                                                (1, 2, "ahead of the current stage")])
def test_rollback_refuses(settings, calls, current, to, words):
    if current is not None:
        state.write(settings.deploy_dir, stage=current)
    with pytest.raises(Refused, match=words):
        move.rollback(settings, to)
    assert calls == []
