"""`invoke demo` runs the whole migration on its own sandbox project and leaves nothing behind,
on the ports of the sandbox config it is given (this session's, from endpoints.py).
(Its own module: no other sandbox may hold the ports and the container name meanwhile.)"""
import re

import yaml

from .conftest import invoke, project_resources


def test_demo_runs_end_to_end_and_cleans_up(docker_client, sandbox_config):
    done = invoke(sandbox_config, "demo", "--requests", "100")
    out = done.stdout
    assert "stage 3: gates history passed, api passed" in out
    assert re.search(r"100 chats through llm-service reached local \d+ / API \d+ \(7\d% API\)", out), out
    assert "reached local 0 / API 100, 0 errors" in out and "decommissioned: 4.40 GB" in out
    assert "demo finished" in out
    project = yaml.safe_load(sandbox_config.read_text())["migrate"]["project"] + "-demo"
    assert f"{project}-llm-service-1" in out, "the demo ran under another project"
    assert not any(project_resources(docker_client, project).values())
