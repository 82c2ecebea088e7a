"""Drain counts connections on the container's own port; free disk is measured where the model
store lives, not at the deploy directory."""
import copy
from types import SimpleNamespace

import pytest
import yaml

from checks import stack
from decommission import drain, run
from core import config
from adapters import docker_api

from ...conftest import ROOT

BASE = yaml.safe_load((ROOT / "defaults.yaml").read_text())


def settings_with(**local):
    data = copy.deepcopy(BASE)
    data["migrate"]["local_llm"].update(local)
    data["migrate"]["deploy_dir"] = "/srv/xiaozhi"
    return config.load(data, env={})


MOUNTS = [  # (local_llm settings, container Mounts, expected store on the host)
    ({}, [{"Type": "volume", "Source": "/var/lib/docker/volumes/xiaozhi_ollama/_data", "Destination": "/root/.ollama"}],
     "/var/lib/docker/volumes/xiaozhi_ollama/_data/models"),
    ({"store_volume": "./models"}, [{"Type": "bind", "Source": "/mnt/big/models", "Destination": "/root/.ollama"}],
     "/mnt/big/models/models"),
    ({"store_volume": "./models"}, None, "/srv/xiaozhi/models/models"),       # container gone
    ({}, None, None),                                                        # a volume, container gone
    ({}, [{"Type": "bind", "Source": "/etc", "Destination": "/etc/hosts"}], None),
]


@pytest.mark.parametrize("local, mounts, expected", MOUNTS)
def test_the_store_is_found_from_the_container_mount(local, mounts, expected):
    attrs = {"Mounts": mounts} if mounts is not None else None
    assert stack.store_source(settings_with(**local), attrs) == expected


def test_drain_counts_the_container_port_not_the_published_one(monkeypatch, tmp_path):
    settings = settings_with(publish=21434, probe_url="http://127.0.0.1:21434")
    settings = type(settings)(**{**settings.__dict__, "deploy_dir": tmp_path})
    ports = []
    monkeypatch.setattr(drain, "wait", lambda port, pid, timeout, out: (ports.append(port), (True, 0))[1])
    engine_side = SimpleNamespace(name="xiaozhi-local-llm", attrs={"State": {"Status": "running", "Pid": 4242}},
                                  stop=lambda timeout: None, remove=lambda force: None)
    client = SimpleNamespace(containers=SimpleNamespace(get=lambda name: engine_side))
    facts = run.Facts(container=docker_api.container(client, "xiaozhi-local-llm"), volume=None, store=None, found=None,
                      routed=run.Routed("llm-service", 0), api_ok=True, api_detail="")
    monkeypatch.setattr(run, "_resources", lambda store: {"mem_available": 0, "disk_free": 0})
    run._carry_out(settings, client, facts, None, False, False, [], 5, lambda *_: None)
    assert ports == [11434]
