import pytest

from checks import cron
from toolkit.errors import ConfigError

JOB = cron.Job(workdir="/opt/toolkit dir", invoke="/opt/toolkit/.venv/bin/invoke", config_file="/etc/xz.yaml",
               prom="/var/lib/node_exporter/textfile_collector/xiaozhi.prom", every="5m")


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
    assert command.startswith("*/5 * * * * cd '/opt/toolkit dir' && flock -n /run/lock/xiaozhi-health.lock timeout 60 ")
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
    assert "[Timer]" in text and "OnUnitActiveSec=5min" in text and "ExecStart=/usr/bin/flock -n" in text
