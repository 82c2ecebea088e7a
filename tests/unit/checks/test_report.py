import json
import re

import pytest
import yaml

from checks import history, report
from checks.model import Result, Status
from checks.run import Report
from core import config

from ...conftest import ROOT

SETTINGS = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={})


def make(statuses=(Status.OK, Status.OK), started=1_700_000_000.0):
    results = [Result("local.generate", statuses[0], "first token < 400 ms", "300 ms",
                      seconds=0.31, metrics={"first_token_seconds": 0.3}),
               Result("api.auth", statuses[1], "key accepted", "401: the key is refused", seconds=0.05)]
    return Report(SETTINGS.stage(2), results, 0.42, started)


@pytest.mark.parametrize("statuses, code", [
    ((Status.OK, Status.OK), 0), ((Status.WARNING, Status.OK), 1), ((Status.OK, Status.CRITICAL), 2),
    ((Status.UNKNOWN, Status.WARNING), 3),
])
def test_every_format_carries_the_worst_status(statuses, code):
    r = make(statuses)
    assert int(r.status) == code
    assert json.loads(report.as_json(r))["exit_code"] == code
    assert report.nagios(r, SETTINGS.health).startswith(f"XIAOZHI_LLM {Status(code).name}: ")
    assert f"xiaozhi_health_status {code}" in report.prometheus(r)
    assert Status(code).mark in report.table(r).splitlines()[0]


def test_nagios_line_and_perfdata():
    line = report.nagios(make((Status.OK, Status.CRITICAL)), SETTINGS.health)
    text, perf = line.split(" | ")
    assert "api.auth CRITICAL: 401" in text and "\n" not in line
    assert "'local_first_token'=0.300s;0.4;1;0;" in perf.split()
    for item in perf.split():
        assert re.fullmatch(r"'[a-z_]+'=[\d.]+s?;[\d.]*;[\d.]*;[\d.]*;[\d.]*", item), item


def test_prometheus_has_a_label_per_check_and_first_token():
    text = report.prometheus(make())
    assert 'probe_success{check="local.generate"} 1' in text
    assert 'probe_duration_seconds{check="api.auth"} 0.050000' in text
    assert 'xiaozhi_first_token_seconds{target="local"} 0.300000' in text
    assert text.endswith("\n")


def test_textfile_write_is_atomic_and_leaves_no_temp(tmp_path):
    target = tmp_path / "xiaozhi.prom"
    report.write_textfile(target, "a 1\n")
    report.write_textfile(target, "a 2\n")
    assert target.read_text() == "a 2\n" and [p.name for p in tmp_path.iterdir()] == ["xiaozhi.prom"]


def test_table_shows_expected_and_actual():
    lines = report.table(make((Status.OK, Status.CRITICAL))).splitlines()
    assert lines[0].startswith("stage 2 (shift, qwen:70,local:30): ❌ CRITICAL")
    assert any("api.auth" in line and "401: the key is refused" in line and line.startswith("❌") for line in lines)


def test_the_actual_column_lines_up_after_the_servers_chinese_log_line():
    """The server.llm row expects `初始化组件: llm成功 ...`: each CJK character takes two columns."""
    results = [Result("server.llm", Status.OK, "初始化组件: llm成功 MigrateRouterLLM", "initialised MigrateRouterLLM"),
               Result("drift", Status.OK, "stage 2: selects MigrateRouterLLM", "matches")]
    lines = report.table(Report(SETTINGS.stage(2), results, 0.1, 0.0)).splitlines()[1:]
    # Counted by hand: mark (2 columns) + space, name (10) + 2, the longest expected (the
    # log line: 初始化组件 is 10 columns, then `: llm成功 MigrateRouterLLM` 26 more) + 2.
    prefix = [line[:line.index(actual)] for line, actual in zip(lines, ("actual", "initialised", "matches"))]
    assert prefix[1] == "✅ server.llm  初始化组件: llm成功 MigrateRouterLLM  "
    assert prefix[2] == "✅ drift       stage 2: selects MigrateRouterLLM" + " " * 5
    assert prefix[0] == "   check       expected" + " " * 30


def test_history_append_rotate_read_and_since(tmp_path):
    path = tmp_path / "h.jsonl"
    for i in range(30):
        history.append(path, history.record(make(started=1000.0 + i)), max_bytes=1000, keep=2)
    records = history.read(path, keep=2)
    assert path.with_name("h.jsonl.1").exists() and path.with_name("h.jsonl.2").exists()
    assert not path.with_name("h.jsonl.3").exists()
    times = [r["time"] for r in records]
    assert times == sorted(times) and times[-1] == 1029.0 and len(times) < 30
    assert [r["time"] for r in history.since(records, 1027.0)] == [1027.0, 1028.0, 1029.0]


def test_history_skips_a_torn_line_and_summarises(tmp_path):
    path = tmp_path / "h.jsonl"
    history.append(path, history.record(make((Status.OK, Status.CRITICAL))), 10 ** 6, 3)
    with open(path, "a") as fh:
        fh.write('{"time": 12')
    records = history.read(path)
    assert len(records) == 1 and records[0]["checks"]["api.auth"] == "CRITICAL"
    text = history.summary(records)
    assert "1 CRITICAL" in text and "api.auth" in text
    assert history.summary([]).startswith("no health history")


def test_unreadable_state_file_is_said_not_swallowed(tmp_path, capsys):
    import dataclasses
    from checks.command import resolve_stage
    (tmp_path / "state.json").write_text("{not json")
    settings = dataclasses.replace(SETTINGS, deploy_dir=tmp_path)
    assert resolve_stage(settings, None) == 0
    assert "unreadable state file" in capsys.readouterr().err
    assert resolve_stage(settings, 2) == 2
