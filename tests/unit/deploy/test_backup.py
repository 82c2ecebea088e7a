"""Backups never eat the live file: only the toolkit's own stamped folders are pruned (never the
one just taken), a copy that is missing or altered makes restore raise before it touches
anything, and only a file that did not exist when the backup was taken is removed."""
import os

import pytest

from core.errors import Refused
from engine import backup

NAMES = ("data/.config.yaml", "router.env", "state.json")
THEIRS = b"server:\r\n    port: 8000   # theirs\r\nLLM:\r\n    OllamaLLM: {type: ollama}\r\n"


@pytest.fixture
def deploy(tmp_path):
    d = tmp_path / "deploy"
    (d / "data").mkdir(parents=True)
    (d / "data" / ".config.yaml").write_bytes(THEIRS)
    os.chmod(d / "data" / ".config.yaml", 0o640)
    return d


def _folders(d, names):
    for name in names:
        (d / "backups" / name).mkdir(parents=True, exist_ok=True)
        (d / "backups" / name / "keep.txt").write_text("the operator's")


@pytest.mark.parametrize("theirs, keep", [
    ([f"manual-copy-{i}" for i in range(10)], 10),       # the reproduction: ten of their folders, the default keep
    (["zz-latest", "my backup", "2025-old-style"], 1),   # names that sort after the stamps, keep 1
    (["99991231T000000.000000000x"], 2),                 # almost a stamp
])
def test_a_save_then_restore_keeps_the_live_file_and_their_folders(deploy, theirs, keep):
    _folders(deploy, theirs)
    saved = backup.save(deploy, keep, label="to-1", names=NAMES)
    (deploy / "data" / ".config.yaml").write_bytes(b"stage 1's\n")
    (deploy / "router.env").write_text("X=1\n")              # created by the stage: it goes on restore
    backup.restore(saved, deploy, NAMES[:2])
    assert (deploy / "data" / ".config.yaml").read_bytes() == THEIRS
    assert oct((deploy / "data" / ".config.yaml").stat().st_mode & 0o777) == oct(0o640)
    assert not (deploy / "router.env").exists()
    for name in theirs:
        assert (deploy / "backups" / name / "keep.txt").read_text() == "the operator's"


@pytest.mark.parametrize("keep, before, left", [(3, 5, 3), (1, 4, 1), (10, 2, 3)])
def test_prune_keeps_the_newest_of_its_own_and_the_one_just_taken(deploy, keep, before, left):
    old = [backup.save(deploy, 100, names=NAMES) for _ in range(before)]
    taken = backup.save(deploy, keep, names=NAMES)
    kept = backup.ours(deploy / "backups")
    assert len(kept) == left and taken in kept and kept[-1] == taken
    assert kept[:-1] == old[len(old) - (left - 1):] if left > 1 else True


@pytest.mark.parametrize("damage", ["copy removed", "copy altered", "manifest torn"])
def test_restore_with_a_copy_missing_raises_and_touches_nothing(deploy, damage):
    saved = backup.save(deploy, 10, names=NAMES)
    (deploy / "data" / ".config.yaml").write_bytes(b"stage 1's\n")
    (deploy / "router.env").write_text("X=1\n")
    if damage == "copy removed":
        os.unlink(saved / "data" / ".config.yaml")
    elif damage == "copy altered":
        (saved / "data" / ".config.yaml").write_bytes(b"not what was saved\n")
    else:
        (saved / backup.MANIFEST).write_text("{torn")
    with pytest.raises(backup.RestoreFailed) as err:
        backup.restore(saved, deploy, NAMES[:2])
    assert "nothing was restored or removed" in err.value.message
    if damage != "manifest torn":
        assert "data/.config.yaml: the live file" in err.value.message and "still there" in err.value.message
    assert (deploy / "data" / ".config.yaml").read_bytes() == b"stage 1's\n"
    assert (deploy / "router.env").read_text() == "X=1\n"


def test_an_older_backup_without_a_manifest_never_removes_a_live_file(deploy):
    old = deploy / "backups" / "20250101T000000.000000000-to-1"
    old.mkdir(parents=True)
    (deploy / "router.env").write_text("X=1\n")
    backup.restore(old, deploy, NAMES[:2])
    assert (deploy / "data" / ".config.yaml").read_bytes() == THEIRS and (deploy / "router.env").exists()


@pytest.mark.parametrize("make, words", [
    (lambda d, elsewhere: (d / "backups").symlink_to(elsewhere), "a symlink"),
    (lambda d, elsewhere: ((d / "backups").mkdir(), os.chmod(d / "backups", 0o1777)), "writable by group or others"),
    (lambda d, elsewhere: ((d / "backups").mkdir(), os.chown(d / "backups", 4242, 4242)), "owned by uid 4242"),
    (lambda d, elsewhere: (d / "backups").write_text("a file"), "not a folder"),
])
def test_a_backups_folder_not_the_toolkits_alone_is_refused_before_anything_is_copied(deploy, tmp_path, make, words):
    if os.geteuid() != 0:
        pytest.fail("this test gives folders away: run the suite as root (CI does)")
    elsewhere = tmp_path / "another-application"
    elsewhere.mkdir()
    for i in range(12):
        (elsewhere / f"{i:02d}").mkdir()
    make(deploy, elsewhere)
    with pytest.raises(Refused) as err:
        backup.save(deploy, 1, names=NAMES)
    assert words in err.value.message and "nothing was changed" in err.value.message
    assert sorted(p.name for p in elsewhere.iterdir()) == [f"{i:02d}" for i in range(12)]


def test_a_backup_keeps_their_bytes_crlf_and_all(deploy):
    saved = backup.save(deploy, 10, names=NAMES)
    assert (saved / "data" / ".config.yaml").read_bytes() == THEIRS


def test_a_restore_after_one_on_a_full_disk_is_coherent(deploy, monkeypatch):
    import errno as e
    saved = backup.save(deploy, 10, names=NAMES)
    (deploy / "data" / ".config.yaml").write_bytes(b"stage 1's\n")
    real = backup.atomic_write

    def full(path, data, mode=None):
        if "deploy/data" in str(path):
            raise OSError(e.ENOSPC, "No space left on device")
        return real(path, data, mode)
    monkeypatch.setattr(backup, "atomic_write", full)
    backup.restore(saved, deploy, NAMES[:2])           # renamed back from the backup: no space needed
    monkeypatch.setattr(backup, "atomic_write", real)
    assert (deploy / "data" / ".config.yaml").read_bytes() == THEIRS and not (saved / "data" / ".config.yaml").exists()
    backup.restore(saved, deploy, NAMES[:2])           # again: nothing to do, no false "lacks a copy"
    assert (deploy / "data" / ".config.yaml").read_bytes() == THEIRS
