"""`invoke cron.install` and `cron.remove` against the real crontab of this machine; whatever
crontab was there before is put back afterwards."""
import subprocess

import pytest

from checks.cron import MARK

from .conftest import ROOT, invoke


def crontab() -> str:
    done = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


@pytest.fixture
def saved_crontab():
    before = crontab()
    subprocess.run(["crontab", "-"], input="MAILTO=ops\n0 3 * * * /usr/local/bin/backup\n", text=True, check=True)
    yield
    if before:
        subprocess.run(["crontab", "-"], input=before, text=True, check=True)
    else:
        subprocess.run(["crontab", "-r"], capture_output=True)


def test_install_is_idempotent_and_remove_keeps_other_entries(saved_crontab, tmp_path):
    prom = tmp_path / "xiaozhi.prom"
    config = ROOT / "sandbox.yaml"
    dry = invoke(config, "cron.install", "--every", "10m", "--prom", str(prom), "--dry-run")
    assert "*/10 * * * *" in dry.stdout and MARK not in crontab()
    invoke(config, "cron.install", "--every", "10m", "--prom", str(prom), "--yes")
    invoke(config, "cron.install", "--every", "5m", "--prom", str(prom), "--yes")
    table = crontab()
    assert table.count(MARK) == 1 and "*/5 * * * *" in table and "*/10" not in table
    assert "0 3 * * * /usr/local/bin/backup" in table
    assert f"-f {config} health --prom {prom}" in table and "flock -n" in table
    invoke(config, "cron.remove", "--yes")
    assert crontab() == "MAILTO=ops\n0 3 * * * /usr/local/bin/backup\n"
    again = invoke(config, "cron.remove", "--yes")
    assert "nothing to remove" in again.stdout


def test_with_no_terminal_and_no_yes_nothing_is_written(saved_crontab, tmp_path):
    prom = tmp_path / "xiaozhi.prom"
    config = ROOT / "sandbox.yaml"
    before = crontab()
    done = invoke(config, "cron.install", "--prom", str(prom), check=False)
    assert done.returncode == 1 and "not confirmed: nothing was changed" in done.stderr, done.stdout + done.stderr
    assert MARK in done.stdout and crontab() == before     # the entry shown, not written
    invoke(config, "cron.install", "--prom", str(prom), "--yes")
    done = invoke(config, "cron.remove", check=False)
    assert done.returncode == 1 and "will remove from the crontab" in done.stdout and MARK in crontab()


def test_install_refuses_a_bad_interval_without_touching_the_crontab(saved_crontab):
    before = crontab()
    done = invoke(ROOT / "sandbox.yaml", "cron.install", "--every", "90m", check=False)
    assert done.returncode == 2 and "--every" in done.stderr and crontab() == before
