import pytest

from checks import cron
from core.errors import ConfigError

JOB = cron.Job(workdir="/opt/toolkit dir", invoke="/opt/toolkit/.venv/bin/invoke", config_file="/etc/xz.yaml",
               prom="/var/lib/node_exporter/textfile_collector/xiaozhi.prom", every="5m",
               lock="/opt/xiaozhi/.health.lock")


@pytest.mark.parametrize("every, expected", [("1m", "* * * * *"), ("5m", "*/5 * * * *"), ("59m", "*/59 * * * *"),
                                             ("1h", "0 */1 * * *"), ("6h", "0 */6 * * *")])
def test_schedule(every, expected):
    assert cron.schedule(every) == expected


@pytest.mark.parametrize("every", ["0m", "60m", "24h", "30s", "5", "five", "-5m"])
def test_schedule_refuses(every):
    with pytest.raises(ConfigError) as err:
        cron.schedule(every)
    assert err.value.where == "--every"


def test_command_runs_under_flock_and_timeout_with_prom_and_quoting():
    command = cron.entry(JOB).splitlines()[1]
    assert command.startswith("*/5 * * * * cd '/opt/toolkit dir' && flock -n /opt/xiaozhi/.health.lock timeout 60 ")
    assert "-f /etc/xz.yaml health --prom /var/lib/node_exporter/textfile_collector/xiaozhi.prom" in command


def test_merge_replaces_our_entry_and_keeps_others():
    others = "MAILTO=ops\n0 3 * * * /usr/local/bin/backup\n"
    once = cron.merged(others, JOB)
    twice = cron.merged(once, cron.Job(**{**JOB.__dict__, "every": "10m"}))
    assert twice.startswith(others) and twice.count(cron.MARK) == 1 and "*/10 * * * *" in twice
    assert cron.without_ours(twice) == others
    assert cron.without_ours("") == ""


def test_systemd_units_have_service_and_timer():
    text = cron.systemd_units(JOB)
    assert "[Timer]" in text and "OnUnitActiveSec=5min" in text and 'ExecStart="/usr/bin/flock" "-n"' in text


HOSTILE_PATHS = ["/srv/100% ready", "/srv/it's $HOME", '/srv/"q" `id`', "/srv/a\\b;rm -rf x"]


@pytest.mark.parametrize("odd", HOSTILE_PATHS)
def test_cron_line_runs_exactly_the_job(tmp_path, odd):
    """The crontab line, read the way cron reads it (\\% -> %, then sh -c), runs invoke with exactly
    the job's arguments, whatever the paths hold."""
    import os
    import subprocess
    work = tmp_path / odd.lstrip("/")
    work.mkdir(parents=True)
    record = tmp_path / "argv"
    fake = work / "invoke"
    fake.write_text(f"#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{record}'\n")
    fake.chmod(0o755)
    job = cron.Job(workdir=str(work), invoke=str(fake), config_file=str(work / "x.yaml"),
                   prom=str(work / "x.prom"), every="5m", lock=str(work / ".health.lock"))
    line = cron.entry(job).splitlines()[1].split(" ", 5)[5]
    assert "%" not in line.replace("\\%", "")
    subprocess.run(["sh", "-c", line.replace("\\%", "%")], check=True, env={"PATH": os.environ["PATH"]})
    assert record.read_text().splitlines() == job.argv()[6:]


@pytest.mark.parametrize("odd", HOSTILE_PATHS)
def test_systemd_exec_start_quotes_each_argument(odd):
    import shlex
    job = cron.Job(workdir="/opt/t", invoke=f"{odd}/invoke", config_file=None, prom=f"{odd}/x.prom",
                   every="5m", lock=f"{odd}/.lock")
    exec_start = next(l for l in cron.systemd_units(job).splitlines() if l.startswith("ExecStart="))[10:]
    # systemd: %% is %, $$ is $, then double-quoted words with C escapes (as the shell reads these).
    words = shlex.split(exec_start.replace("%%", "%").replace("$$", "$"))
    assert words == ["/usr/bin/flock", "-n", job.lock, "/usr/bin/timeout", *job.argv()[4:]]


def test_a_path_with_a_newline_is_refused():
    with pytest.raises(ConfigError):
        cron.Job(workdir="/opt/t", invoke="/x/invoke", config_file=None, prom="/x.prom\n* * * * * evil",
                 every="5m", lock="/x/.lock")
