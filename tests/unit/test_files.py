import os

from toolkit.files import atomic_write, read_text


def test_atomic_write_creates_with_mode(tmp_path):
    atomic_write(tmp_path / "llm.env", "A=1\n", 0o600)
    assert read_text(tmp_path / "llm.env") == "A=1\n"
    assert (tmp_path / "llm.env").stat().st_mode & 0o777 == 0o600


def test_atomic_write_keeps_existing_mode_and_leaves_no_temp(tmp_path):
    target = tmp_path / "docker-compose.yml"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write(target, "new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docker-compose.yml"]


def test_read_text_of_missing_file_is_none(tmp_path):
    assert read_text(tmp_path / "nope") is None
