"""Restarting the server (no engine: a container stand-in): a server that its restart policy
already started on the restored files is waited for, not stopped in the middle of starting; one
that did not is restarted; a failure logged by the run before never ends the wait of this one."""
import datetime
import time

import pytest

from adapters import dockerd, http
from core.errors import MigrationError
from targets.xiaozhi_server import apply

from .test_plan import settings

AGO = 5   # the backup's files were put back this many seconds before each test


def written() -> float:
    """Taken in the test, not at import: CI collects the unit tests long before it runs them."""
    return time.time() - AGO


def iso(t: float) -> str:
    """Unix seconds as Docker writes them."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
calls = [0]   # how many times the server was asked whether it answers


class Container:
    def __init__(self, running: bool, started: str, log: bytes = b"", finished: str = "0001-01-01T00:00:00Z"):
        self.attrs = {"State": {"Running": running, "StartedAt": started, "FinishedAt": finished}}
        self.log, self.restarts, self.since = log, 0, None

    def restart(self, timeout):
        self.restarts += 1
        self.restarted_after = calls[0]
        self.attrs["State"].update(Running=True, StartedAt=iso(time.time()))

    def reload(self):
        pass

    def logs(self, since):
        self.since = since
        return self.log


class Client:
    def __init__(self, container):
        self.containers = self
        self.container = container
        SERVER[0] = container

    def get(self, name):
        return self.container


SERVER = [None]   # the stand-in the test gave: its log is what the engine's log reader reads


@pytest.fixture(autouse=True)
def logs_of_the_stand_in(monkeypatch):
    monkeypatch.setattr(dockerd, "read_logs", lambda name, since, until=None: SERVER[0].logs(since).decode())


@pytest.mark.parametrize("running, started, restarts", [
    (True, +0.5, 0),     # started again by its policy after the files came back: waited for
    (True, -0.5, 1),     # started before that: it may hold the failed files
    (False, +0.5, 1),    # exited again, or between two tries of its policy
])
def test_the_rollback_waits_for_a_server_its_policy_started_on_the_restored_files(tmp_path, monkeypatch, running,
                                                                                   started, restarts):
    monkeypatch.setattr(http, "request", lambda method, url, timeout: (200, "Server is running"))
    at = written()
    container, said = Container(running, iso(at + started)), []
    apply.restart_server(settings(tmp_path), Client(container), said.append, written=at)
    assert container.restarts == restarts
    assert ("restart policy" in said[0]) is (restarts == 0)


def test_a_forward_move_always_restarts(tmp_path, monkeypatch):
    monkeypatch.setattr(http, "request", lambda method, url, timeout: (200, "Server is running"))
    container = Container(True, iso(written()))
    apply.restart_server(settings(tmp_path), Client(container), lambda _: None)
    assert container.restarts == 1


def test_only_this_runs_failure_ends_the_wait(tmp_path, monkeypatch):
    def refused(method, url, timeout):
        raise http.HTTPError("refused", "refused")
    monkeypatch.setattr(http, "request", refused)
    failed = "初始化组件失败: LLM MigrateRouterLLM: the provider failed".encode()
    at = written()
    container = Container(False, iso(at - 20), log=failed, finished=iso(at - 0.1))
    with pytest.raises(MigrationError, match="did not start: 初始化组件失败"):
        apply.restart_server(settings(tmp_path), Client(container), lambda _: None)
    assert container.since == pytest.approx(at - 0.1)   # after the run before ended, not a second before


def test_a_server_still_starting_is_let_finish_before_it_is_restarted(tmp_path, monkeypatch):
    """Started by its policy before the files came back, still loading: a stop now would wait for
    the whole stop timeout, since it handles no SIGTERM yet."""
    calls[0] = 0

    def starting_then_up(method, url, timeout):
        calls[0] += 1
        if calls[0] <= 3:
            raise http.HTTPError("refused", "refused")
        return 200, "Server is running"
    monkeypatch.setattr(http, "request", starting_then_up)
    monkeypatch.setattr(apply.time, "sleep", lambda _: None)
    at = written()
    container = Container(True, iso(at - 0.5))
    apply.restart_server(settings(tmp_path), Client(container), lambda _: None, written=at)
    assert container.restarts == 1 and container.restarted_after == 4   # restarted once it answered


def test_a_server_that_has_run_long_and_does_not_answer_is_hung_and_restarted_at_once(tmp_path, monkeypatch):
    calls[0] = 0

    def hung_then_up(method, url, timeout):
        calls[0] += 1
        if not container.restarts:
            raise http.HTTPError("timeout", "no answer")
        return 200, "Server is running"
    monkeypatch.setattr(http, "request", hung_then_up)
    waits = []
    monkeypatch.setattr(apply.time, "sleep", waits.append)
    container = Container(True, iso(time.time() - 3 * 3600))   # hours ago: not starting up
    apply.restart_server(settings(tmp_path), Client(container), lambda _: None)
    assert container.restarts == 1 and container.restarted_after == 0 and not waits
