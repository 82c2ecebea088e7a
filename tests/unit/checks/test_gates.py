"""The validation gate judges the API's latency, not the probe's own connection set-up."""
import pytest
import yaml

from checks.facts import Api, Generation
from checks import gates
from core import config

from ...conftest import ROOT

SETTINGS = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={"QWEN_API_KEY": "sk-test-123456"})
BOUND_S = SETTINGS.gates.validation_p95_ms / 1000


@pytest.mark.parametrize("answers, passed", [
    # (first_token_s, connect_s) of each sample prompt; None: the prompt failed
    ([(0.8, 0.05)] * 20, True),
    ([(BOUND_S + 0.2, 0.3)] * 20, True),    # over the bound only because of a slow TLS handshake
    ([(BOUND_S + 0.2, 0.1)] * 20, False),   # the API itself is too slow
    ([(0.8, 0.05)] * 18 + [None] * 2, False),  # 90% answered, 95% needed
    ([(0.8, 0.05)] * 19 + [None], True),
])
def test_validation(monkeypatch, answers, passed):
    queue = list(answers)

    async def fake_api(*_args, **_kw):
        answer = queue.pop()
        if answer is None:
            return Api("u", "m", auth="ok", generation=Generation(error="server_error"))
        return Api("u", "m", auth="ok", generation=Generation(first_token_s=answer[0], connect_s=answer[1]))
    monkeypatch.setattr(gates.probes, "api", fake_api)
    result = gates.validation(SETTINGS)
    assert result.passed is passed, result.detail
    assert not queue, "every sample prompt was sent"


def test_every_gate_config_may_name_exists():
    assert tuple(gates.GATES) == config.GATE_NAMES
