"""The command surface: errors become clean exits with their codes; flags are checked first."""
import pytest
from invoke import Exit, MockContext

import tasks
from core.errors import ConfigError, MigrationError


@pytest.mark.parametrize("error, code", [
    (MigrationError("boom", where="here", hint="do that"), 1),
    (ConfigError("bad", where="migrate.x"), 2),
])
def test_converted_turns_errors_into_exit_codes(error, code):
    @tasks.converted
    def failing(c):
        raise error
    with pytest.raises(Exit) as exc:
        failing(MockContext())
    assert exc.value.code == code
    assert str(exc.value.message).startswith("error: ") and error.where in exc.value.message


@pytest.mark.parametrize("value, expected", [("2", 2), (3, 3)])
def test_number(value, expected):
    assert tasks._number(value, "--stage") == expected


@pytest.mark.parametrize("value", ["x", None, "1.5"])
def test_number_refuses(value):
    with pytest.raises(ConfigError) as err:
        tasks._number(value, "--stage")
    assert err.value.where == "--stage"


def test_every_task_has_a_one_line_help():
    for name in tasks.ns.task_names:
        task = tasks.ns[name]
        assert task.__doc__ and task.__doc__.strip().splitlines()[0], name


def test_listing_imports_no_heavy_package():
    import subprocess
    import sys
    code = ("import sys; sys.path.insert(0, '.'); import tasks; "
            "heavy = [m for m in ('docker', 'httpx', 'jinja2', 'matplotlib', 'psutil') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tasks.__file__.rsplit("/", 1)[0])
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_httpx_comes_without_its_command_line_client():
    """The test tools install click and rich, which httpx imports for its CLI when present:
    ~45 ms of every health run. The adapter keeps them out, as a production install has them."""
    import subprocess
    import sys
    code = ("import sys; sys.path.insert(0, '.'); from adapters import http; import httpx; "
            "print([m for m in ('click', 'rich', 'httpx._main') if sys.modules.get(m)], callable(httpx.main))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tasks.__file__.rsplit("/", 1)[0])
    assert out.stdout.strip() == "[] True", out.stdout + out.stderr


def test_the_health_path_imports_neither_httpx_nor_the_docker_sdk():
    """Cron runs `invoke health` every few minutes: importing its modules must not pull in httpx
    (the probes import it in their own thread, while the report is prepared) nor the docker SDK
    and requests (~100 ms of start-up, never needed for reading)."""
    import subprocess
    import sys
    code = ("import sys; sys.path.insert(0, '.'); import tasks; "
            "from checks import command, history, judge, report, run, stack; from core import state; "
            "from orchestration import health, targets; "
            "from targets.compose_env import target, health as compose_health; from targets.xiaozhi_server import target as server_target; "
            "heavy = [m for m in ('httpx', 'httpcore', 'anyio', 'docker', 'requests', 'jinja2') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tasks.__file__.rsplit("/", 1)[0])
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_error_messages_never_carry_the_key(monkeypatch):
    monkeypatch.setenv("QWEN_API_KEY", "sk-leaky-123456")

    @tasks.converted
    def failing(c):
        raise MigrationError("command exited 1", detail="stderr: QWEN_API_KEY=sk-leaky-123456 is bad")
    with pytest.raises(Exit) as exc:
        failing(MockContext())
    assert "sk-leaky" not in exc.value.message and "<redacted" in exc.value.message


@pytest.mark.parametrize("argv, shows", [
    (["phase", "--help"], "--stage=STRING"),
    (["rollback", "--help"], "--to=STRING"),
    (["health", "-h"], "--history"),        # -h is help, never a task's own short flag
    (["decommission", "--help"], "--purge"),
])
def test_newcomer_help_paths(argv, shows):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "invoke", *argv], capture_output=True, text=True,
                          cwd=tasks.__file__.rsplit("/", 1)[0], timeout=60)
    assert done.returncode == 0 and "Usage:" in done.stdout and shows in done.stdout, done.stdout + done.stderr


def test_phase_without_a_stage_says_how():
    with pytest.raises(Exit) as exc:
        tasks.phase(MockContext())
    assert exc.value.code == 2 and "--stage" in exc.value.message


@pytest.mark.parametrize("stdin", ["closed", "devnull"])
def test_a_question_with_stdin_closed_is_a_no_not_a_traceback(tmp_path, stdin):
    import subprocess
    import sys
    code = "import tasks; print('answer', tasks._confirm('go?'))"
    argv = ["bash", "-c", f"{sys.executable} -c \"{code}\" " + ("<&-" if stdin == "closed" else "</dev/null")]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tasks.__file__.rsplit("/", 1)[0], timeout=60)
    assert "answer False" in done.stdout and "Traceback" not in done.stderr, done.stdout + done.stderr
