"""The key is never written where another user could read or swap it: every folder on the way to
a key-bearing file must be owned by root or this user and not writable by group or others (a
sticky bit does not make it private), the file itself must be owned by root or this user, and
the lock refuses a file it would truncate behind another name."""
import os

import pytest

from core import state
from core.errors import Refused
from core.files import check_key_path, dir_problems

NOBODY = 65534


@pytest.fixture(autouse=True)
def _root():
    if os.geteuid() != 0:
        pytest.fail("these tests give files away: run the suite as root (CI does)")


@pytest.fixture
def deploy(tmp_path):
    d = tmp_path / "server"
    (d / "data").mkdir(parents=True)
    os.chmod(d, 0o755)
    os.chmod(d / "data", 0o755)
    (d / "data" / ".config.yaml").write_text("selected_module: {LLM: OllamaLLM}\n")
    return d


@pytest.mark.parametrize("where, change, words", [
    ("data", lambda p: os.chmod(p, 0o777), "writable by group or others (mode 0777)"),
    ("data", lambda p: os.chmod(p, 0o1777), "writable by group or others (mode 1777)"),   # sticky is not private
    ("data", lambda p: os.chown(p, NOBODY, NOBODY), "owned by nobody (uid 65534)"),
    (".", lambda p: os.chmod(p, 0o1777), "writable by group or others"),
    ("data/.config.yaml", lambda p: os.chown(p, NOBODY, NOBODY), "owned by nobody (uid 65534)"),
    ("data/.config.yaml", lambda p: (os.rename(p, str(p) + ".real"), os.symlink(str(p) + ".real", p)),
     "not a regular file"),
])
def test_a_key_path_another_user_controls_is_refused_naming_the_problem(deploy, where, change, words):
    change(deploy / where)
    with pytest.raises(Refused) as err:
        check_key_path(deploy, "data/.config.yaml")
    assert words in err.value.message and "nothing was changed" in err.value.message


def test_the_owner_is_named_when_the_owner_is_the_problem(deploy):
    os.chown(deploy / "data", NOBODY, NOBODY)
    with pytest.raises(Refused) as err:
        check_key_path(deploy, "data/.config.yaml")
    assert "chown root:" in err.value.hint and "chmod" not in err.value.hint


def test_a_private_path_passes(deploy):
    check_key_path(deploy, "data/.config.yaml")
    check_key_path(deploy, "router.env")      # not there yet: the folders alone
    assert dir_problems(deploy / "missing") == []


@pytest.mark.parametrize("make, words", [
    (lambda p, other: os.link(other, p), "hard-linked"),
    (lambda p, other: os.mkfifo(p), "not a regular file"),
])
def test_the_lock_refuses_a_file_it_would_truncate_behind_another_name(tmp_path, make, words):
    other = tmp_path / "precious.txt"
    other.write_text("someone's data\n")
    d = tmp_path / "deploy"
    d.mkdir()
    make(d / state.LOCK, other)
    with pytest.raises(Refused) as err:
        with state.lock(d):
            pass
    assert words in err.value.message
    assert other.read_text() == "someone's data\n"


def test_the_lock_still_works_on_its_own_file(tmp_path):
    with state.lock(tmp_path):
        assert (tmp_path / state.LOCK).read_text().strip() == str(os.getpid())


@pytest.mark.parametrize("mode, refused", [(0o777, True), (0o775, True), (0o1777, False), (0o755, False)])
def test_a_folder_above_the_deploy_dir_anyone_may_rename_in_is_refused(tmp_path, mode, refused):
    above = tmp_path / "srv"
    (above / "xiaozhi" / "data").mkdir(parents=True)
    os.chmod(above, mode)
    if refused:
        with pytest.raises(Refused, match="above the deploy directory"):
            check_key_path(above / "xiaozhi", "data/.config.yaml")
    else:
        check_key_path(above / "xiaozhi", "data/.config.yaml")
