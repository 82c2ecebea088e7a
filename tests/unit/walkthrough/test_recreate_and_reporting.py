"""What the operator is told: which containers a move restarts (as Compose will decide, from the
containers' observed environment), health's exit code when the metrics file cannot be written,
cron's metrics directory, and audit lines with real stage numbers."""
import os

import pytest
import yaml

from checks import command, cron, stack
from checks.model import Result, Status
from core import state as status
from targets.compose_env import plan as planning
from targets.compose_env.render import environments, fingerprints, render
from core import config

from ...conftest import OPERATOR_FILES, ROOT

SETTINGS = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={"QWEN_API_KEY": "sk-test-123456"})


def world(stage, edit=None):
    """Containers created from stage ``stage``'s files, their environment observed as digests;
    ``edit`` changes one service's environment by hand: (service, VAR, value)."""
    files = render(SETTINGS, SETTINGS.stage(stage))
    envs = environments(files)
    if edit:
        envs[edit[0]] = {**envs[edit[0]], edit[1]: edit[2]}
    containers = {name: planning.Running(name=name, fingerprint=fp, state="running", env={},
                                         env_digests=stack.env_digests({"Config": {"Env": [f"{k}={v}" for k, v in envs[name].items()]
                                                                                  + ["PATH=/usr/bin"]}}))
                  for name, fp in fingerprints(files).items()}
    return planning.World(files=files, state={"stage": stage}, containers=containers, local_container=None,
                          **OPERATOR_FILES)


RECREATE = [
    ("nothing changed", None, []),
    ("weights edited by hand in llm.env, then `compose up`", ("llm-service", "LLM_PROVIDER_WEIGHTS", "qwen:0,local:100"), ["llm-service"]),
    ("the key rotated in the container only", ("llm-service", "QWEN_API_KEY", "sk-other-999"), ["llm-service"]),
    ("a limit changed on vad", ("vad", "VAD_MAX_CONCURRENT", "99"), ["vad"]),
    ("a variable the stage does not set", ("asr", "DEBUG", "1"), []),
]


@pytest.mark.parametrize("case, edit, recreate", RECREATE, ids=[c for c, _, _ in RECREATE])
def test_a_drift_repair_predicts_what_compose_recreates(case, edit, recreate):
    plan = planning.make(SETTINGS, world(2, edit), SETTINGS.stage(2), render(SETTINGS, SETTINGS.stage(2)))
    assert plan.recreate == recreate
    text = planning.describe(plan, SETTINGS.api_key, SETTINGS.stop_grace_s)
    assert "sk-other" not in text and "sk-test" not in text


def fake_report(status_):
    from checks.run import Report
    return Report(SETTINGS.stage(2), [Result("api.auth", status_, "key accepted", "x")], 0.1, 0.0)


@pytest.mark.parametrize("found, code", [(Status.CRITICAL, 2), (Status.UNKNOWN, 3), (Status.WARNING, 1), (Status.OK, 1)])
def test_an_unwritable_metrics_file_never_lowers_the_exit_code(monkeypatch, tmp_path, capsys, found, code):
    settings = type(SETTINGS)(**{**SETTINGS.__dict__, "deploy_dir": tmp_path})
    text, exit_code = command.health(settings, stage=2, output="nagios", prom=str(tmp_path / "missing" / "x.prom"),
                                      probes=lambda *a, **k: (lambda: fake_report(found)))
    assert exit_code == code
    assert "metrics file" in capsys.readouterr().err and text.startswith("XIAOZHI_LLM")


def test_cron_install_says_when_the_metrics_directory_is_missing(monkeypatch, tmp_path):
    written = []
    monkeypatch.setattr(cron, "read_crontab", lambda: "")
    monkeypatch.setattr(cron, "write_crontab", written.append)
    job = cron.Job(workdir="/opt/t", invoke="/opt/t/invoke", config_file=None, prom=str(tmp_path / "tf" / "x.prom"),
                   every="5m", lock="/opt/xiaozhi/.health.lock")
    lines = []
    cron.install(job, dry_run=True, out=lines.append)
    assert "does not exist" in lines[0] and "--mkdir" in lines[0] and not written
    with pytest.raises(cron.MigrationError, match="does not exist"):
        cron.install(job, out=lines.append)
    assert not written
    cron.install(job, mkdir=True, yes=True, out=lines.append)
    assert os.path.isdir(tmp_path / "tf") and written and lines[-1].startswith("installed: */5 * * * *")


@pytest.mark.parametrize("entry, words", [
    ({"event": "applied", "from": 1, "to": 2, "result": "ok"}, "applied stage 1 -> 2 ok"),
    ({"event": "sandbox-up", "to": 0, "result": "ok"}, "sandbox-up stage ? -> 0 ok"),
    ({"event": "decommission-removed", "path": "/v/blobs/sha256-ab", "bytes": 3}, "decommission-removed /v/blobs/sha256-ab"),
    ({"event": "decommission-container-stopped", "name": "xiaozhi-local-llm"}, "decommission-container-stopped xiaozhi-local-llm"),
])
def test_audit_lines_in_words(entry, words):
    assert status.event(entry) == words and "None" not in status.event(entry)
