"""The gate to the validate stage of the xiaozhi-server target sends the API the calls the server
will make (thinking off, a tools list) and names the one that failed, against the DashScope emulator."""
import dataclasses

import pytest
import yaml

from checks import gates
from core import config

from ..conftest import ROOT
from .conftest import KEY


def settings_for(url: str, key: str = KEY):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["api"].update(base_url=url, probe_url=url)
    return config.load(data, env={"QWEN_API_KEY": key})


@pytest.mark.parametrize("knobs, key, passed, named", [
    ({}, KEY, True, ""),
    ({"tools_unsupported": True}, KEY, False, "with tools failed"),
    ({}, "sk-wrong-0000", False, "with enable_thinking false failed"),
])
def test_server_calls(dashscope_server, knobs, key, passed, named):
    dashscope_server.knobs.update(knobs)
    result = gates.server_calls(settings_for(dashscope_server.url + "/compatible-mode/v1", key))
    assert result.passed is passed, result.detail
    assert named in result.detail
    if knobs.get("tools_unsupported"):
        assert "enable_thinking false failed" not in result.detail   # only the failed call is named


def test_without_a_key_the_gate_says_where_it_looked():
    s = dataclasses.replace(settings_for("http://127.0.0.1:9/v1"), api_key="", key_source="no key: set QWEN_API_KEY")
    result = gates.server_calls(s)
    assert not result.passed and "QWEN_API_KEY" in result.detail


@pytest.mark.parametrize("tools", ["get_weather", [{"type": "function"}], [{"function": {"name": "x"}}]])
def test_the_emulator_refuses_malformed_tools(dashscope_server, tools):
    import httpx
    r = httpx.post(dashscope_server.url + "/compatible-mode/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                   json={"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], "tools": tools})
    assert r.status_code == 400 and "tools" in r.json()["error"]["message"]


def test_the_bench_records_the_apis_own_token_counts(dashscope_server):
    import asyncio

    import httpx

    from bench.load import Target, one

    async def go():
        async with httpx.AsyncClient(timeout=10) as client:
            return await one(client, Target("api", dashscope_server.url + "/compatible-mode/v1", "qwen-plus", KEY))
    sample = asyncio.run(go())
    assert sample.ok and (sample.prompt_tokens, sample.completion_tokens) == (12, sample.tokens), sample
