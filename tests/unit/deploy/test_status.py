"""`status` renders the same Plan as `phase --dry-run` and post-apply verification."""
import pytest

from core.errors import DockerError
from targets.compose_env import plan as planning
from targets.compose_env import status

from .test_plan import SETTINGS, world_at


@pytest.mark.parametrize("world, words, absent", [
    (world_at(2), ["file docker-compose.migrate.yml: matches stage 2", "containers: match the stage"], ["would (re)create"]),
    (world_at(2, deployed=1), ["file llm.env: DIFFERS from stage 2", "DRIFT: llm-service LLM_PROVIDER_WEIGHTS",
                               "would (re)create: llm-service"], []),
    (world_at(2, stopped=("vad",)), ["would (re)create: vad"], ["DIFFERS"]),
])
def test_status_is_the_plan(monkeypatch, world, words, absent):
    monkeypatch.setattr(status.docker_api, "client", lambda: None)
    monkeypatch.setattr(planning, "observe", lambda settings, client: world)
    text = "\n".join(status.converge_lines(SETTINGS, SETTINGS.stage(2)))
    for word in words:
        assert word in text, text
    for word in absent:
        assert word not in text, text


def test_status_without_an_engine_still_compares_the_files(monkeypatch, tmp_path):
    def down():
        raise DockerError("the Docker engine is not reachable")
    monkeypatch.setattr(status.docker_api, "client", down)
    monkeypatch.setattr(planning, "read_files", lambda settings: {"docker-compose.yml": None, "llm.env": None})
    text = "\n".join(status.converge_lines(SETTINGS, SETTINGS.stage(1)))
    assert "file llm.env: DIFFERS from stage 1" in text and "containers: unknown (the Docker engine" in text
