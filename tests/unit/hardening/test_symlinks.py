"""Every file the toolkit writes: a symlink planted where it writes never redirects the write,
and a deploy directory others could plant links in is refused."""
import json
import os

import pytest

from checks import history, report
from core import state
from core import files
from core.errors import Refused


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim"
    path.write_text("precious\n")
    os.chmod(path, 0o600)
    return path


def _untouched(victim):
    assert victim.read_text() == "precious\n" and (victim.stat().st_mode & 0o777) == 0o600


# name -> what writes there
WRITERS = {
    ".migrate.lock": lambda d: state.lock(d).__enter__(),
    "audit.jsonl": lambda d: state.audit(d, "test", who="x"),
    "health-history.jsonl": lambda d: history.append(d / "health-history.jsonl", {"status": "OK"}, 1 << 20, 3),
    "state.json": lambda d: state.write(d, stage=1),
    "llm.env": lambda d: files.write_files(d, {"llm.env": "A=1\n"}, {"llm.env"}),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_planted_link_never_redirects_a_write(tmp_path, victim, name):
    deploy = tmp_path / "deploy"
    deploy.mkdir(mode=0o700)
    (deploy / name).symlink_to(victim)
    with pytest.raises(Refused) as err:
        WRITERS[name](deploy)
    assert "symlink" in err.value.message
    _untouched(victim)


def test_the_metrics_file_never_writes_through_a_planted_link(tmp_path, victim):
    target = tmp_path / "xiaozhi.prom"
    (tmp_path / f"xiaozhi.prom.{os.getpid()}").symlink_to(victim)  # the old predictable temp name
    report.write_textfile(target, "probe_success 1\n")
    _untouched(victim)
    assert target.read_text() == "probe_success 1\n"
    target.unlink()
    target.symlink_to(victim)
    with pytest.raises(Refused):
        report.write_textfile(target, "probe_success 0\n")
    _untouched(victim)


def test_history_through_a_link_is_a_warning_not_a_crash(tmp_path, victim, capsys):
    from checks import command
    from types import SimpleNamespace
    (tmp_path / "health-history.jsonl").symlink_to(victim)
    settings = SimpleNamespace(history_path=tmp_path / "health-history.jsonl",
                               health=SimpleNamespace(history_max_bytes=1 << 20, history_keep=3))
    fake = SimpleNamespace(started=0.0, seconds=0.1, stage=SimpleNamespace(number=1), results=[],
                           status=SimpleNamespace(name="OK"))
    from checks import history
    command._record(settings, history.record(fake))
    assert "symlink" in capsys.readouterr().err
    _untouched(victim)


@pytest.mark.parametrize("mode, refused", [(0o755, False), (0o700, False), (0o775, True), (0o777, True),
                                           (0o757, True)])
def test_a_deploy_dir_others_can_write_is_refused(tmp_path, mode, refused):
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    os.chmod(deploy, mode)
    if refused:
        with pytest.raises(Refused) as err:
            files.check_private_dir(deploy)
        assert "writable by group or others" in err.value.message and "chmod go-w" in err.value.message
    else:
        files.check_private_dir(deploy)


def test_a_deploy_dir_owned_by_another_user_is_refused(tmp_path):
    deploy = tmp_path / "deploy"
    deploy.mkdir(mode=0o755)
    if os.geteuid() != 0:
        pytest.fail("this test gives the directory away: run the suite as root (CI does)")
    os.chown(deploy, 12345, 12345)
    with pytest.raises(Refused) as err:
        files.check_private_dir(deploy)
    assert "owned by uid 12345" in err.value.message


def test_audit_lines_mask_registered_keys(tmp_path):
    from core import secrets
    secrets.register("sk-audit-0123456789")
    state.audit(tmp_path, "rolled-back", problems=["stderr: QWEN_API_KEY=sk-audit-0123456789 rejected"])
    text = (tmp_path / "audit.jsonl").read_text()
    assert "sk-audit" not in text and json.loads(text)["problems"]


def test_bench_reports_never_write_through_a_planted_link(tmp_path, victim):
    from bench import report
    from bench.load import Level
    (tmp_path / "bench-x.png").symlink_to(victim)
    with pytest.raises(Refused):
        report.chart([Level("api", 1, [], 1.0)], tmp_path / "bench-x.png")
    _untouched(victim)
    assert report.chart([Level("api", 1, [], 1.0)], tmp_path / "ok.png").read_bytes().startswith(b"\x89PNG")
