"""The xiaozhi-server target's steps as the engine calls them: the local model's service and the
split reach converge; a failed verification puts their file back byte for byte and converges
again onto the stage it left (its split, its local service), told when the files were put back;
the audit and the state carry the target's own fields."""
import dataclasses

import pytest

from core import state
from core.errors import VerifyFailed
from engine import move as engine
from targets.xiaozhi_server import apply, plan as p, render as r
from targets.xiaozhi_server.facts import Seen

from adapters.compose import BASE_FILE

from .test_plan import BASE, settings, world


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def converge(settings_, client, split, restart, out, local="", written=None, quiet_until=None):
        seen.append(("converge", split, bool(restart), local, written))
        return 0.7
    monkeypatch.setattr(apply, "converge", converge)
    return seen


def at(tmp_path, stage, s):
    """Their folder as the plan saw it at ``stage``: its files on disk, the state recorded."""
    tmp_path.chmod(0o700)
    made = p.make(s, world(state={"stage": stage} if stage is not None else None), s.stage(stage or 0),
                  allow_skip=True, force=True)
    for change in made.files:
        if change.new is not None:
            (tmp_path / change.name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / change.name).write_text(change.new)
    (tmp_path / BASE_FILE).write_text(BASE)
    state.write(tmp_path, stage=stage, since=1.0, config_mode=0o644)


def test_a_verified_split_converges_with_the_router_and_records_the_targets_fields(tmp_path, calls, monkeypatch):
    s = settings(tmp_path)
    at(tmp_path, 1, s)
    monkeypatch.setattr(apply, "verify", lambda *a: [])
    plan = p.make(s, dataclasses.replace(p.observe(s, None), server=Seen("running", 2e9),
                                         local_state="running"), s.stage(2))
    assert not plan.adoption.problems and plan.restart and plan.router == "create"
    monkeypatch.setattr(apply.Steps, "replan", lambda self: dataclasses.replace(plan, files=[], restart="",
                                                                                router="", recorded=2))
    out = []
    engine.apply(s, s.stage(2), engine.Outcome(plan), apply.Steps(s, s.stage(2), None, None), False, out.append)
    assert calls == [("converge", True, True, "", None)]
    entry = state.audit_tail(tmp_path, 2)
    assert entry[0]["event"] == "apply-start" and entry[0]["router"] == "create" and entry[0]["restart"]
    assert entry[1]["server_away_s"] == 0.7
    assert entry[0]["changes"]["containers"] == {"xiaozhi-esp32-server": "restart", "xiaozhi-router": "create"}
    assert "data/.config.yaml" in entry[0]["changes"]["files"] and entry[0]["changes"]["rows"] == {}
    assert state.read(tmp_path)["stage"] == 2 and state.read(tmp_path)["config_mode"] == 0o644
    assert out[-1] == ("stage 2 (shift) applied and verified; the server was away 0.7 s (a device connects again at "
                       "its next wake word)")


def test_a_failed_verification_puts_their_file_back_and_converges_onto_the_stage_it_left(tmp_path, calls,
                                                                                         monkeypatch):
    s = settings(tmp_path)
    at(tmp_path, 2, s)
    before = (tmp_path / r.CONFIG_FILE).read_bytes()
    monkeypatch.setattr(apply, "verify", lambda *a: ["health server.llm: it runs OllamaLLM"])
    plan = p.make(s, dataclasses.replace(p.observe(s, None), server=Seen("running", 2e9),
                                         local_state="running"), s.stage(3))
    assert not plan.adoption.problems and plan.restart
    with pytest.raises(VerifyFailed):
        engine.apply(s, s.stage(3), engine.Outcome(plan), apply.Steps(s, s.stage(3), None, None), False,
                     lambda *_: None)
    assert (tmp_path / r.CONFIG_FILE).read_bytes() == before
    forward, back = calls
    assert forward[:2] == ("converge", False) and back[1] is True     # back onto the split it left
    assert back[4] is not None and back[4] >= (tmp_path / r.CONFIG_FILE).stat().st_mtime - 1
    assert state.read(tmp_path)["stage"] == 2 and state.audit_tail(tmp_path, 1)[0]["event"] == "rolled-back"
