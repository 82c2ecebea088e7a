"""The next commands an alert names, from a production-like config (no key anywhere): the way back
at the cut-over when the API fails, with or without a quarantined copy (an unreadable one counts as
none), and the plain ones otherwise."""
import pytest
import yaml

from core import config
from orchestration.alerting import next_steps

from ...conftest import ROOT


def settings(quarantine_dir):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"].setdefault("decommission", {})["quarantine_dir"] = str(quarantine_dir)
    return config.load(data, env={})


def test_without_a_copy_the_way_back_says_to_pull_the_model_again(tmp_path):
    (tmp_path / "20260101T000000-garbage").mkdir()   # hostile: a batch without a readable manifest
    steps = next_steps(settings(tmp_path), 3, ["api.auth"])
    assert steps == [("invoke health", ("no_copy", {})), ("invoke outage", ("after_pull", {"model": "qwen2:7b"}))]


@pytest.mark.parametrize("stage, failing, expected", [
    (2, ["api.auth"], ["invoke health", "invoke status"]),          # before the cut-over the local model answers
    (3, ["local.port"], ["invoke health", "invoke status"]),
    (1, ["drift"], ["invoke status", "invoke phase --stage 1"]),
])
def test_the_plain_next_commands(tmp_path, stage, failing, expected):
    assert next_steps(settings(tmp_path), stage, failing) == expected


def test_a_recovery_needs_no_next_command(tmp_path):
    assert next_steps(settings(tmp_path), 3, ["api.auth"], recovered=True) == []
