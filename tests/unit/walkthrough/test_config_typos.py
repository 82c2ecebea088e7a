"""A misspelt setting is an error naming its dotted key, at every level, with a close match."""
import copy

import pytest
import yaml

from core import config
from core.errors import ConfigError

from ...conftest import ROOT

BASE = yaml.safe_load((ROOT / "defaults.yaml").read_text())
SANDBOX = yaml.safe_load((ROOT / "sandbox.yaml").read_text())


def with_key(path, value):
    data = copy.deepcopy(BASE)
    node = data["migrate"]
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    return data


TYPOS = [  # (dotted path to add, expected where, expected suggestion)
    ("deploy-dir", "migrate.deploy-dir", "deploy_dir"),
    ("health.timeuot", "migrate.health.timeuot", "timeout"),
    ("local_llm.modle", "migrate.local_llm.modle", "model"),
    ("api.bse_url", "migrate.api.bse_url", "base_url"),
    ("stages.1.weight", "migrate.stages[1].weight", "weights"),
    ("stages.2.limits.vda", "migrate.stages[2].limits.vda", "vad"),
    ("local_llm.compose_servise", "migrate.local_llm.compose_servise", "compose_service"),
    ("services.llm_service", "migrate.services.llm_service", "llm-service"),
    ("gates.by_stag", "migrate.gates.by_stag", "by_stage"),
    ("decommission.quarantine", "migrate.decommission.quarantine", "quarantine_dir"),
    ("extra_services.cache", None, None),   # not a typo: an operator's own service (image needed)
]


@pytest.mark.parametrize("path, where, suggestion", TYPOS)
def test_a_misspelt_setting_is_refused_with_a_suggestion(path, where, suggestion):
    value = {"image": "redis:7"} if path.startswith("extra_services") else 5
    data = with_key(path, value)
    if where is None:
        config.load(data, env={})
        return
    with pytest.raises(ConfigError) as err:
        config.load(data, env={})
    assert err.value.where == where
    assert f"did you mean {suggestion!r}" in err.value.message and "known here:" in err.value.message


def test_the_shipped_configs_have_no_unknown_key():
    from invoke.config import merge_dicts
    config.load(BASE, env={})
    config.load(merge_dicts(copy.deepcopy(BASE), SANDBOX), env={})
