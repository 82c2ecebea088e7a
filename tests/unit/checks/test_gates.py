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


def _history(tmp_path, hours_ago: list[float], min_hours=0.0, critical_at=None, rotated=False):
    import dataclasses
    import json
    import time
    now = time.time()
    lines = [{"time": now - h * 3600, "stage": 2, "status": "CRITICAL" if i == critical_at else "OK",
              "seconds": 1, "checks": {"api.auth": "CRITICAL" if i == critical_at else "OK"}}
             for i, h in enumerate(hours_ago)]
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    s = config.load(data, env={})
    s = dataclasses.replace(s, gates=dataclasses.replace(s.gates, history_records=12, history_min_hours=min_hours))
    (tmp_path / "health-history.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    if rotated:
        (tmp_path / f"health-history.jsonl.{s.health.history_keep}").write_text("")
    return gates.health_history(s, recorded=2, since=now - 900 * 3600)


EVERY_2H_FOR_A_WEEK = [170 - 2 * i for i in range(85)]       # 170 h ago .. 2 h ago, cron every 2 h
MINUTES = [i / 60 for i in range(12, 0, -1)]                 # 12 runs in the last 12 minutes


@pytest.mark.parametrize("hours_ago, min_hours, critical_at, rotated, passed, words", [
    (MINUTES, 0, None, False, True, "no CRITICAL in the last 12"),                  # no time asked: as before
    (MINUTES, 168, None, False, False, "span 0.2 h, need 168 h"),                   # the reproduction
    (EVERY_2H_FOR_A_WEEK, 168, None, False, True, "watched throughout"),            # a week of cron
    (EVERY_2H_FOR_A_WEEK + MINUTES, 168, None, False, True, "watched throughout"),  # cron and manual: one series
    (EVERY_2H_FOR_A_WEEK, 168, 84, False, False, "are CRITICAL"),                   # a CRITICAL 2 h ago
    ([500] + EVERY_2H_FOR_A_WEEK, 168, 0, False, True, "watched throughout"),       # a blip before the week: past
    ([170] + MINUTES[1:], 168, None, False, False, "no health record for"),         # one run, a week of silence
    (EVERY_2H_FOR_A_WEEK[:40] + EVERY_2H_FOR_A_WEEK[50:], 168, None, False, False, "no health record for"),
    (MINUTES, 168, None, True, False, "keeps only"),                                # rotation ate the week
])
def test_the_history_gate_can_require_time_as_well_as_records(tmp_path, hours_ago, min_hours, critical_at, rotated,
                                                              passed, words):
    result = _history(tmp_path, hours_ago, min_hours=min_hours, critical_at=critical_at, rotated=rotated)
    assert result.passed is passed and words in result.detail, result.detail
