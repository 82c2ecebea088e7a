"""The toolkit's version as a fleet compares it: a digest of the sources that decide a move, blind
to line endings, changed by any change of content."""
import re

from core import version


def test_the_version_names_the_release_and_a_digest():
    assert re.fullmatch(rf"{re.escape(version.RELEASE)}\+[0-9a-f]{{12}}", version.toolkit())


def test_a_change_of_content_changes_it_and_line_endings_do_not(tmp_path, monkeypatch):
    for name in ("tasks.py", "defaults.yaml", "requirements.txt"):
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "a.py").write_text("A = 1\nB = 2\n")
    monkeypatch.setattr(version, "ROOT", tmp_path)
    monkeypatch.setattr(version, "PACKAGES", ("core",))
    first = version.toolkit.__wrapped__()
    (tmp_path / "core" / "a.py").write_bytes(b"A = 1\r\nB = 2\r\n")
    assert version.toolkit.__wrapped__() == first
    (tmp_path / "core" / "a.py").write_text("A = 1\nB = 3\n")
    assert version.toolkit.__wrapped__() != first
