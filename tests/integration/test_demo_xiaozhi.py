"""`invoke demo` on the xiaozhi-server sandbox: the server adopted at stage 0, then 1, 2 (through
the real LiteLLM proxy) and 3, with its report; nothing left behind. (Its own module: no other
sandbox may hold the ports and xiaozhi-local-llm meanwhile.)"""
import re

import yaml

from . import endpoints
from .conftest import ROOT, invoke, project_resources


def test_demo_walks_the_server_and_cleans_up(docker_client, tmp_path):
    data = endpoints.apply(yaml.safe_load((ROOT / "sandbox-xiaozhi.yaml").read_text()), str(tmp_path / "unused"))
    key = data["migrate"]["api"].pop("key")      # the key only in the environment, as in production
    config = tmp_path / "sandbox-xiaozhi-test.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    out = invoke(config, "demo", "--requests", "100", env={"QWEN_API_KEY": key}).stdout
    assert "stage 1: gates key passed, api passed, server-calls passed" in out, out
    assert re.search(r"100 chats through the server reached local 100 / API 0 \(0% API\), 0 errors", out), out
    # the router draws each chat 30/70: a right one is outside 52-88 of 100 once in 17,000 runs (60-80: 2%)
    assert re.search(r"100 chats through the server reached local \d+ / API \d+ \((5[2-9]|[67][0-9]|8[0-8])% API\)", out), out
    assert "reached local 0 / API 100, 0 errors" in out and "decommissioned: 4.40 GB" in out
    assert re.search(r"the server restarted 3 times; devices were offline [\d.]+, [\d.]+, [\d.]+ s", out), out
    project = data["migrate"]["project"] + "-demo"
    assert not any(project_resources(docker_client, project).values())
