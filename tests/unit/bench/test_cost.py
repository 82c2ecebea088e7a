"""The cost section: measured tokens times the configured price, per stage; nothing guessed."""
import dataclasses
import json
import time

import pytest
import yaml

from bench import cost
from bench.load import Sample, _usage
from core import config

from ...conftest import ROOT

SETTINGS = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={})
PRICE = config.Price(0.001, 0.002, "CNY", "2025-09-01")
SAMPLES = [Sample(True, 0.1, 1.0, 12, "", 20, 100), Sample(True, 0.1, 1.0, 12, "", 40, 300),
           Sample(False, error="HTTP 500"), Sample(True, 0.1, 1.0, 12, "")]   # a failure and a chat with no usage


def test_tokens_are_the_mean_of_the_chats_that_reported_usage():
    assert cost.measured(SAMPLES) == cost.Tokens(2, 30.0, 200.0)
    assert cost.measured(SAMPLES[2:]) is None


def test_the_section_prices_each_stage_and_prints_the_date():
    text = "\n".join(cost.section(cost.Tokens(2, 30.0, 200.0), "qwen-plus", PRICE, SETTINGS.stages, 1000))
    assert "as of 2025-09-01" in text
    one = 30 / 1000 * 0.001 + 200 / 1000 * 0.002              # 0.00043 CNY per chat
    assert "| 3 cutover | 100% | 0.4300 CNY | 12.90 CNY |" in text        # 1000 chats; 30 days of 1000 a day
    assert "| 2 shift | 70% | 0.3010 CNY |" in text and one == pytest.approx(0.00043)


@pytest.mark.parametrize("tokens, price, says", [
    (None, PRICE, "No token counts were measured"),
    (cost.Tokens(1, 1, 1), None, "No price for `qwen-plus`"),
])
def test_without_a_price_or_tokens_nothing_is_guessed(tokens, price, says):
    text = "\n".join(cost.section(tokens, "qwen-plus", price, SETTINGS.stages, None))
    assert says in text and "CNY" not in text


@pytest.mark.parametrize("line, usage", [
    ('data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}',
     {"prompt_tokens": 12, "completion_tokens": 7}),
    ('data: {"choices":[{"delta":{"content":"hi"}}]}', {}),
    ('data: {"usage": null}', {}), ("data: [DONE]", {}), ('{"response": "x"}', {}),
])
def test_usage_is_read_from_the_last_chunk(line, usage):
    assert _usage("api", line) == usage


def test_status_projects_only_from_a_recent_measurement_with_a_price(tmp_path):
    s = dataclasses.replace(SETTINGS, deploy_dir=tmp_path, api_prices={"qwen-plus": PRICE})
    assert cost.projected(s, s.stage(3)) is None                       # no bench yet
    (tmp_path / cost.MEASURED).write_text(json.dumps({"time": time.time(), "model": "qwen-plus", "chats": 2,
                                                      "prompt": 30.0, "completion": 200.0, "report": "r.md"}))
    line = cost.projected(s, s.stage(3))
    assert "0.4300 CNY per 1000 chats" in line and "as of 2025-09-01" in line
    assert cost.projected(s, s.stage(3), now=time.time() + 31 * 86400) is None   # too old to project from
    assert cost.projected(dataclasses.replace(s, api_prices={}), s.stage(3)) is None
