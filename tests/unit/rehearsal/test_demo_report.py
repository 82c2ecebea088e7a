"""The demo's report asks each target's sandbox what its moves cost (no target's audit fields are
read by the rehearsal itself)."""
import pytest

from core import registry, state


@pytest.mark.parametrize("target, entries, says", [
    ("xiaozhi-server", [{"server_away_s": 0.7}, {"server_away_s": 1.25}, {}],
     ["  the server restarted 2 times; devices were offline 0.7, 1.2 s (from the restart until 8000 answered again)"]),
    ("xiaozhi-server", [{}], []),
    ("compose-env", [{"server_away_s": 3.0}], []),   # its moves restart no server
])
def test_each_target_says_what_its_moves_cost(tmp_path, target, entries, says):
    from types import SimpleNamespace
    for fields in entries:
        state.audit(tmp_path, "applied", **fields)
    state.audit(tmp_path, "apply-start", server_away_s=9.0)   # only applied entries count
    assert registry.sandbox_of(target).report_lines(SimpleNamespace(deploy_dir=tmp_path)) == says
