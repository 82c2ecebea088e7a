"""The target seam: migrate.target picks the kind of stack; compose-env is the seed's."""
import pytest
import yaml

from core import config
from core.errors import ConfigError
from deploy.render import render
from orchestration import targets

from ...conftest import ROOT

DATA = yaml.safe_load((ROOT / "invoke.yaml").read_text())


def test_every_target_config_accepts_is_implemented():
    assert tuple(targets.TARGETS) == config.TARGET_NAMES


def test_compose_env_is_the_default_and_renders_the_stage_files():
    data = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    data["migrate"].pop("target")
    settings = config.load(data, env={})  # production-like: no key anywhere
    target = targets.load(settings, client=object())
    assert target.name == "compose-env" == settings.target
    stage = settings.stage(1)
    assert target.render(stage) == render(settings, stage)
    assert target.needs_local_model(settings.stage(3))[1] == []  # stage 3 sends the local model nothing


@pytest.mark.parametrize("name", ["xiaozhi-server", "Compose-Env", "", "../x", 3])
def test_an_unknown_target_is_refused_naming_the_key(name):
    data = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    data["migrate"]["target"] = name
    with pytest.raises(ConfigError) as caught:
        config.load(data, env={})
    assert caught.value.where == "migrate.target" and "compose-env" in caught.value.hint
