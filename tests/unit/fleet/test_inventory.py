"""Issue 25's inventory, validated like the rest of the config: a production-like one, and hostile
ones that each stop with the dotted key and change nothing."""
from pathlib import Path

import pytest
import yaml

from core.errors import ConfigError
from fleet import inventory

PRODUCTION = yaml.safe_load("""
hosts:
  shenzhen-1: {host: 10.20.0.11, user: xiaozhi, key_file: ~/.ssh/fleet_ed25519, folder: /opt/xiaozhi-migrate}
  shenzhen-2: {host: 10.20.0.12, user: xiaozhi, key_file: ~/.ssh/fleet_ed25519, folder: /opt/xiaozhi-migrate}
  hangzhou-1: {host: "fd00::21", port: 2222, user: ops, folder: /srv/migrate, config: /etc/xiaozhi-migrate.yaml,
               overrides: {target: xiaozhi-server, deploy_dir: /srv/xiaozhi-server, project: xiaozhi-server}}
  hangzhou-2: {host: hz2.example.internal, folder: /srv/migrate}
groups: {shenzhen: [shenzhen-1, shenzhen-2], hangzhou: [hangzhou-1, hangzhou-2]}
canary: [shenzhen-1]
batch: "50%"
pause: 60
gate: {health_records: 3, timeout: 1200}
stop_after: 2
""")


def test_a_production_like_inventory():
    inv = inventory.read(PRODUCTION, base=Path("/etc/xiaozhi"))
    assert list(inv.hosts) == ["shenzhen-1", "shenzhen-2", "hangzhou-1", "hangzhou-2"]
    h = inv.hosts["hangzhou-1"]
    assert (h.host, h.port, h.user, h.config) == ("fd00::21", 2222, "ops", "/etc/xiaozhi-migrate.yaml")
    assert h.overrides == (("deploy_dir", "/srv/xiaozhi-server"), ("project", "xiaozhi-server"),
                           ("target", "xiaozhi-server"))
    assert inv.hosts["hangzhou-2"].user is None and inv.hosts["hangzhou-2"].port == 22
    assert inv.canary == ("shenzhen-1",) and inv.batch_size(3) == 2 and inv.stop_after == 2
    assert inv.gate.health_records == 3 and inv.gate.wait == 0
    assert inv.record == Path("/etc/xiaozhi/fleet-record.json") and inv.accept_unknown_hosts is False


def test_a_group_as_canary_and_a_fixed_wait():
    inv = inventory.read({**PRODUCTION, "canary": ["hangzhou"], "batch": 1, "gate": {"wait": 90}})
    assert inv.canary == ("hangzhou-1", "hangzhou-2") and inv.batch_size(2) == 1
    assert inv.gate.wait == 90 and inv.gate.health_records == 0


HOSTILE = [
    # id, change to the production inventory, the dotted key named, words
    ("no hosts", {"hosts": {}}, "migrate.fleet.hosts", "no hosts"),
    ("a typo", {"canaries": ["x"]}, "migrate.fleet.canaries", "did you mean 'canary'"),
    ("a host's typo", {"hosts": {"a": {"hots": "x"}}}, "migrate.fleet.hosts.a.hots", "unknown setting"),
    ("a shell in the host", {"hosts": {"a": {"host": "x; rm -rf /"}}}, "migrate.fleet.hosts.a.host", "invalid value"),
    ("a newline in a folder", {"hosts": {"a": {"host": "x", "folder": "/opt\nrm"}}}, "migrate.fleet.hosts.a.folder",
     "invalid value"),
    ("a port out of range", {"hosts": {"a": {"host": "x", "port": 70000}}}, "migrate.fleet.hosts.a.port", "1 to 65535"),
    ("a key override", {"hosts": {"a": {"host": "x", "overrides": {"api": {"key": "sk-x"}}}}},
     "migrate.fleet.hosts.a.overrides.api", "unknown setting"),
    ("a canary nobody knows", {"canary": ["beijing-1"]}, "migrate.fleet.canary", "no such host or group"),
    ("a group of strangers", {"groups": {"x": ["nobody"]}}, "migrate.fleet.groups.x", "no such host"),
    ("every host a canary", {"canary": ["shenzhen", "hangzhou"]}, "migrate.fleet.canary", "every host is a canary"),
    ("batch zero", {"batch": 0}, "migrate.fleet.batch", "not a batch size"),
    ("batch 150%", {"batch": "150%"}, "migrate.fleet.batch", "not a batch size"),
    ("batch true", {"batch": True}, "migrate.fleet.batch", "not a batch size"),
    ("two gates", {"gate": {"wait": 10, "health_records": 2}}, "migrate.fleet.gate", "both a fixed wait"),
    ("stop after none", {"stop_after": 0}, "migrate.fleet.stop_after", "from 1"),
    ("unknown hosts 'yes'", {"accept_unknown_hosts": "yes"}, "migrate.fleet.accept_unknown_hosts", "true or false"),
    ("not a mapping", None, "migrate.fleet", "expected a mapping"),
]


@pytest.mark.parametrize("change, where, words", [s[1:] for s in HOSTILE], ids=[s[0] for s in HOSTILE])
def test_hostile_inventories_name_the_key(change, where, words):
    data = None if change is None else {**PRODUCTION, **change}
    with pytest.raises(ConfigError) as err:
        inventory.read(data)
    assert err.value.where == where and words in err.value.message, err.value.message
    assert "sk-x" not in err.value.message
