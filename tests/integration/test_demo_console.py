"""`invoke demo` on the console sandbox: the deployment adopted at stage 0, then 1, 2 (every
moved agent through the router, 30/70 per chat) and 3, each with no restart, with its report; nothing left behind. (Its own
module: no other sandbox may hold the ports and the containers meanwhile.)"""
import re

import yaml

from . import endpoints
from .conftest import ROOT, invoke, project_resources


def test_demo_walks_the_console_and_cleans_up(docker_client, tmp_path):
    data = endpoints.apply(yaml.safe_load((ROOT / "sandbox-console.yaml").read_text()), str(tmp_path / "unused"))
    key = data["migrate"]["api"].pop("key")      # the key only in the environment, as in production
    config = tmp_path / "sandbox-console-test.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    out = invoke(config, "demo", "--requests", "96", env={"QWEN_API_KEY": key}).stdout
    assert "stage 1: gates key passed, api passed, server-calls passed, manager-api passed" in out, out
    assert "96 chats through the server (from 24 devices in turn) reached local 96 / API 0 (0% API), 0 errors" in out
    # split: requests (the default): the router weighs each chat 30/70 (96 chats: outside 50-89% once in 50,000 runs)
    assert re.search(r"96 chats through the server \(from 24 devices in turn\) reached local \d+ / API \d+ "
                     r"\((5[0-9]|[67][0-9]|8[0-9])% API\), 0 errors", out), out
    assert "reached local 0 / API 96, 0 errors" in out and "decommissioned: 4.40 GB" in out
    assert "4 moves applied with no server restart" in out, out
    assert not any(project_resources(docker_client, data["migrate"]["project"] + "-demo").values())
