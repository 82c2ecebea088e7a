"""`invoke demo` runs the whole migration on its own sandbox project and leaves nothing behind.
(Its own module: no other sandbox may hold the ports and the container name meanwhile.)"""
import re
from pathlib import Path

from .conftest import invoke, project_resources


def test_demo_runs_end_to_end_and_cleans_up(docker_client):
    done = invoke(Path("sandbox.yaml"), "demo", "--requests", "100")
    out = done.stdout
    assert "stage 3: gates history passed, api passed" in out
    assert re.search(r"100 chats through llm-service reached local \d+ / API \d+ \(7\d% API\)", out), out
    assert "reached local 0 / API 100, 0 errors" in out and "decommissioned: 4.40 GB" in out
    assert "demo finished" in out
    assert not any(project_resources(docker_client, "xiaozhi-demo").values())
