"""A move that restarts the server waits for quiet: no established connection to the server's
port inside its container (a device's conversation). At the deadline it refuses with nothing
written, unless --force; the plan says how many are open. Counted as the drain counts 11434's."""
import dataclasses

import pytest

from core.errors import Refused
from targets.xiaozhi_server import apply, plan as p

from .test_plan import settings, world

TABLE = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0200A8C0:1F40 0300A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0200A8C0:1F40 0400A8C0:D432 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0200A8C0:2AF8 0400A8C0:D433 01 00000000:00000000 00:00000000 00000000     0        0 4 1
"""


def test_conversations_are_the_established_connections_to_8000_in_the_container(tmp_path, monkeypatch):
    proc = tmp_path / "proc" / "4242" / "net"
    proc.mkdir(parents=True)
    (proc / "tcp").write_text(TABLE)   # one listening socket, two devices on 8000 (0x1F40), one on 11000
    from decommission import drain
    monkeypatch.setattr(drain, "established", lambda port, pid: drain.parse_tcp_table((proc / "tcp").read_text(), port))

    class Client:
        pass
    monkeypatch.setattr(p.docker_api, "inspect_or_none", lambda client, name: {"State": {"Pid": 4242}})
    assert p.conversations(settings(tmp_path), Client()) == 2
    monkeypatch.setattr(p.docker_api, "inspect_or_none", lambda client, name: {"State": {"Pid": 0}})
    assert p.conversations(settings(tmp_path), Client()) is None   # not running: nothing to count


@pytest.mark.parametrize("counts, until, left", [
    ([0], 10, 0),                    # quiet at once
    ([2, 1, 0], 10, 0),              # they end while it waits
    ([1] * 100, 0.3, 1),             # one that never ends: still open at the deadline
])
def test_the_wait_ends_at_quiet_or_at_the_deadline(tmp_path, monkeypatch, counts, until, left):
    seen = iter(counts)
    monkeypatch.setattr(p, "conversations", lambda settings_, client: next(seen))
    said = []
    import time
    assert apply.wait_quiet(settings(tmp_path), None, time.time() + until, said.append, interval=0.01) == left
    assert not left or any("waiting for 1 conversation(s) to end" in s for s in said)


def plan_with_restart(tmp_path):
    s = settings(tmp_path)
    plan = p.make(s, world(state={"stage": 0}), s.stage(1))
    assert plan.restart
    return s, plan


def test_still_busy_at_the_deadline_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    s, plan = plan_with_restart(tmp_path)
    s = dataclasses.replace(s, gates=dataclasses.replace(s.gates, quiet_wait=0))
    monkeypatch.setattr(p, "conversations", lambda settings_, client: 3)
    written = []
    monkeypatch.setattr(apply, "write", lambda settings_, plan_: written.append(plan_))
    steps = apply.Steps(s, s.stage(1), None, None, force=False, out=lambda *_: None)
    with pytest.raises(Refused) as refused:
        steps.write(plan)
    assert "3 conversation(s) still open" in refused.value.what and "nothing was changed" in refused.value.what
    assert "--force" in refused.value.hint and not written
    forced = apply.Steps(s, s.stage(1), None, None, force=True, out=lambda *_: None)
    monkeypatch.setattr(apply.compose, "point_compose_file", lambda d: None)
    forced.write(plan)
    assert written == [plan]


def test_the_plan_says_how_many_conversations_are_open(tmp_path):
    s, plan = plan_with_restart(tmp_path)
    plan.conversations = 2
    text = p.describe(plan, "", s)
    assert "RESTARTS (its config file changes); 2 conversation(s) open now; it waits for quiet (up to 300 s" in text


def test_a_move_that_waited_says_how_long(tmp_path, monkeypatch):
    s, plan = plan_with_restart(tmp_path)
    seen = iter([1] * 6 + [0] * 100)
    monkeypatch.setattr(p, "conversations", lambda settings_, client: next(seen))
    monkeypatch.setattr(apply, "write", lambda settings_, plan_: None)
    monkeypatch.setattr(apply.compose, "point_compose_file", lambda d: None)
    said = []
    apply.Steps(s, s.stage(1), None, None, force=False, out=said.append).write(plan)
    assert any(line.startswith("no conversation open after") for line in said), said
