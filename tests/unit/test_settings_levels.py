"""Site settings win over the toolkit's defaults at every level Invoke documents, in its order:
defaults < /etc/invoke.yaml < ~/.invoke.yaml < a project invoke.yaml < INVOKE_MIGRATE_* < -f.
The defaults are the collection's own configuration (tasks.ns), loaded as `invoke` loads it."""
import os
import subprocess
import sys

import pytest
import yaml
from invoke.config import Config

import tasks
from core import config, defaults

from ..conftest import ROOT

LEVELS = ("system", "user", "project", "env", "runtime")


def loaded(tmp_path, monkeypatch, given: dict[str, str]) -> Config:
    """A Config put together in Invoke's order, each level's file in tmp_path."""
    files = {"system": tmp_path / "etc" / "invoke.yaml", "user": tmp_path / "home" / ".invoke.yaml",
             "project": tmp_path / "proj" / "invoke.yaml", "runtime": tmp_path / "site.yaml"}
    for path in files.values():
        path.parent.mkdir(exist_ok=True)
    for level, value in given.items():
        if level == "env":
            monkeypatch.setenv("INVOKE_MIGRATE_PROJECT", value)
        else:
            files[level].write_text(yaml.safe_dump({"migrate": {"project": value}}))
    c = Config(system_prefix=str(files["system"].parent) + "/", user_prefix=str(files["user"].parent) + "/.",
               project_location=str(files["project"].parent),
               runtime_path=str(files["runtime"]) if "runtime" in given else None)
    c.load_collection(tasks.ns.configuration())
    c.load_system()
    c.load_user()
    c.load_project()
    c.load_shell_env()
    c.load_runtime()
    return c


@pytest.mark.parametrize("highest", range(len(LEVELS)), ids=LEVELS)
def test_each_level_wins_over_the_defaults_and_the_levels_below_it(tmp_path, monkeypatch, highest):
    monkeypatch.delenv("INVOKE_MIGRATE_PROJECT", raising=False)
    given = {level: f"from-{level}" for level in LEVELS[:highest + 1]}
    c = loaded(tmp_path, monkeypatch, given)
    assert config.load(c, env={}).project == f"from-{LEVELS[highest]}"
    read = [level for level, _ in defaults.files_read(c)]
    assert read == ["defaults"] + [level for level in LEVELS[:highest + 1] if level != "env"]


def test_with_no_site_settings_the_defaults_hold(tmp_path, monkeypatch):
    monkeypatch.delenv("INVOKE_MIGRATE_PROJECT", raising=False)
    assert config.load(loaded(tmp_path, monkeypatch, {}), env={}).project == defaults.load()["migrate"]["project"]


def test_a_bad_target_in_the_users_file_is_refused_not_ignored(tmp_path):
    """The reproduction: ~/.invoke.yaml used to be outranked by the project's invoke.yaml."""
    (tmp_path / ".invoke.yaml").write_text("migrate:\n  target: no-such-target\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    done = subprocess.run([sys.executable, "-m", "invoke", "status"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**env, "HOME": str(tmp_path)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown target 'no-such-target'" in done.stderr and f"{tmp_path}/.invoke.yaml (user)" in done.stdout


def test_the_project_folder_has_no_invoke_yaml_of_its_own():
    """A file there would outrank /etc/invoke.yaml and ~/.invoke.yaml: the defaults are not one."""
    assert not (ROOT / "invoke.yaml").exists()
