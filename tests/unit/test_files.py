import os

from core.files import atomic_write, read_text


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


def test_json_lines_round_trip_and_skip_a_torn_line(tmp_path):
    from core.files import append_json_line, read_json_lines
    log = tmp_path / "audit.jsonl"
    append_json_line(log, {"event": "a", "who": "小智"}, 0o640)
    append_json_line(log, {"event": "b"})
    with open(log, "a") as fh:
        fh.write('{"event": "c"')
    assert read_json_lines(log) == [{"event": "a", "who": "小智"}, {"event": "b"}]
    assert log.stat().st_mode & 0o777 == 0o640
    assert read_json_lines(tmp_path / "absent.jsonl") == []


def test_write_files_makes_private_ones_0600(tmp_path):
    from core.files import write_files
    write_files(tmp_path / "deploy", {"docker-compose.yml": "a", "llm.env": "K=1"}, private={"llm.env"})
    assert (tmp_path / "deploy" / "llm.env").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "deploy" / "docker-compose.yml").read_text() == "a"
