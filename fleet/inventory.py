"""The fleet's inventory (issue 25): ``migrate.fleet`` in the config, or the ``fleet:`` of a
separate YAML file (`--inventory FILE`). Validated with config's rules: a bad value is a
ConfigError naming its dotted key, and nothing is contacted before the whole file is read.

    fleet:
      hosts:
        site-a: {host: 10.0.0.5, user: xiaozhi, key_file: ~/.ssh/id_ed25519, folder: /opt/xiaozhi-migrate}
        site-b: {host: 10.0.0.6, port: 2222, overrides: {deploy_dir: /srv/xiaozhi, project: xiaozhi}}
      groups: {north: [site-a, site-b]}
      canary: [site-a]            # hosts or groups moved first, alone
      batch: 2                    # hosts at once after the canary: a number, or a share such as "25%"
      pause: 30                   # seconds between batches
      gate: {health_records: 2, timeout: 900}   # or {wait: 120}: a fixed wait
      stop_after: 1               # failures that stop the rollout (no new host is started)
      known_hosts: ~/.ssh/known_hosts
      accept_unknown_hosts: false # true: a host not in known_hosts is added (never a changed key)
      connect_timeout: 10
      record: fleet-record.json   # the rollout's own record (resuming reads it), beside the inventory

A host's ``overrides`` reach its toolkit as ``INVOKE_MIGRATE_*`` variables on the command line (so
only settings that are not secrets: the target, the deploy folder, the Compose project); its API
key is read on the host as ever (its deployed file or environment), never sent."""
from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from core import config
from core.errors import ConfigError, shown

HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ADDRESS = re.compile(r"^[A-Za-z0-9._:%-]{1,253}$")            # a DNS name, IPv4 or IPv6 literal
USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$", re.I)
PATH = re.compile(r"^[^\x00-\x1f\x7f]{1,4096}$")
OVERRIDES = {"target": config.SERVICE_NAME, "deploy_dir": PATH, "project": config.SERVICE_NAME}
HOST_KEYS = ("host", "port", "user", "key_file", "folder", "command", "config", "overrides")
FLEET_KEYS = ("hosts", "groups", "canary", "batch", "pause", "gate", "stop_after", "known_hosts",
              "accept_unknown_hosts", "connect_timeout", "record")


@dataclass(frozen=True)
class Host:
    name: str
    host: str
    port: int = 22
    user: str | None = None               # None: SSH's own (~/.ssh/config, then the local user)
    key_file: str | None = None           # None: the agent and SSH's default keys
    folder: str | None = None             # where the toolkit is on the host (cd there first)
    command: str = ".venv/bin/invoke"     # the toolkit's invoke, relative to folder
    config: str | None = None             # its -f FILE on the host
    overrides: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Gate:
    health_records: int = 2               # OK health records on the host since its move ...
    timeout: int = 900                    # ... within this long, else the host failed its gate
    wait: int = 0                         # instead: a fixed wait (seconds), no records read


@dataclass(frozen=True)
class Inventory:
    hosts: Mapping[str, Host]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    canary: tuple[str, ...] = ()          # host names, groups expanded, in inventory order
    batch: str = "1"                      # "N" hosts, or "N%" of the hosts after the canary
    pause: int = 0
    gate: Gate = Gate()
    stop_after: int = 1
    known_hosts: str = "~/.ssh/known_hosts"
    accept_unknown_hosts: bool = False
    connect_timeout: int = 10
    record: Path = Path("fleet-record.json")

    def batch_size(self, rest: int) -> int:
        """How many hosts a batch holds, of ``rest`` hosts after the canary (at least one)."""
        if self.batch.endswith("%"):
            return max(1, math.ceil(rest * int(self.batch[:-1]) / 100))
        return int(self.batch)


def read(data, where: str = "migrate.fleet", base: Path = Path(".")) -> Inventory:
    """The inventory from its mapping; relative paths (the record) are taken from ``base``, the
    folder of the inventory file."""
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping", where=where, hint="see README, \"Many hosts\"")
    config.known(data, FLEET_KEYS, where)
    raw = data.get("hosts")
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError("no hosts", where=f"{where}.hosts", hint="name at least one: hosts: {site-a: {host: 10.0.0.5}}")
    hosts = {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not HOST_NAME.match(name):
            raise ConfigError(f"{shown(name)} is not a host name", where=f"{where}.hosts",
                              hint="letters, digits, '.', '_' and '-', starting with a letter or digit")
        hosts[name] = _host(name, spec, f"{where}.hosts.{name}")
    groups = _groups(data.get("groups") or {}, hosts, f"{where}.groups")
    values: dict = {"hosts": hosts, "groups": groups}
    values["canary"] = _members(data.get("canary") or [], hosts, groups, f"{where}.canary")
    if len(values["canary"]) == len(hosts) and len(hosts) > 1:
        raise ConfigError("every host is a canary", where=f"{where}.canary",
                          hint="name the few hosts that move first; the rest follow in batches")
    if "batch" in data:
        values["batch"] = _batch(data["batch"], f"{where}.batch")
    for key, low, high in (("pause", 0, 86400), ("stop_after", 1, 10000), ("connect_timeout", 1, 300)):
        if key in data:
            values[key] = config.integer(data, key, where, low, high)
    if "gate" in data:
        values["gate"] = _gate(data["gate"], f"{where}.gate")
    if "known_hosts" in data:
        values["known_hosts"] = config.text(data, "known_hosts", where, PATH, "a file path")
    if "accept_unknown_hosts" in data:
        if not isinstance(data["accept_unknown_hosts"], bool):
            raise ConfigError(f"{shown(data['accept_unknown_hosts'])} is not true or false",
                              where=f"{where}.accept_unknown_hosts",
                              hint="false (the default) refuses a host that is not in known_hosts")
        values["accept_unknown_hosts"] = data["accept_unknown_hosts"]
    if "record" in data:
        values["record"] = base / config.text(data, "record", where, PATH, "a file path")
    else:
        values["record"] = base / Inventory.record
    return Inventory(**values)


def _host(name: str, spec, where: str) -> Host:
    if not isinstance(spec, Mapping):
        raise ConfigError("expected a mapping", where=where, hint="e.g. {host: 10.0.0.5, user: xiaozhi}")
    config.known(spec, HOST_KEYS, where)
    values: dict = {"name": name, "host": config.text(spec, "host", where, ADDRESS, "a host name or IP address")}
    if ":" in values["host"]:
        try:
            ipaddress.IPv6Address(values["host"].split("%")[0])
        except ValueError:
            raise ConfigError(f"{values['host']!r} is not a host name or IP address", where=f"{where}.host",
                              hint="give the port as port: N, not host:port") from None
    if "port" in spec:
        values["port"] = config.integer(spec, "port", where, 1, 65535)
    if "user" in spec:
        values["user"] = config.text(spec, "user", where, USER, "a user name")
    for key in ("key_file", "folder", "command", "config"):
        if key in spec:
            values[key] = config.text(spec, key, where, PATH, "a path")
    overrides = spec.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise ConfigError("expected a mapping", where=f"{where}.overrides", hint="e.g. {deploy_dir: /opt/xiaozhi}")
    config.known(overrides, tuple(OVERRIDES), f"{where}.overrides")
    values["overrides"] = tuple((key, config.text(overrides, key, f"{where}.overrides", OVERRIDES[key], "a value"))
                                for key in sorted(overrides))
    return Host(**values)


def _groups(raw, hosts, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise ConfigError("expected a mapping of group -> host names", where=where, hint="e.g. {north: [site-a, site-b]}")
    groups = {}
    for name, members in raw.items():
        if not isinstance(name, str) or not HOST_NAME.match(name) or name in hosts:
            raise ConfigError(f"{shown(name)} is not a group name (or is also a host's)", where=where,
                              hint="give each group its own name")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ConfigError("expected a list of host names", where=f"{where}.{name}", hint="e.g. [site-a, site-b]")
        unknown = [m for m in members if m not in hosts]
        if unknown:
            raise ConfigError(f"no such host: {', '.join(unknown)}", where=f"{where}.{name}",
                              hint=f"the hosts are {', '.join(hosts)}")
        groups[name] = tuple(members)
    return groups


def _members(raw, hosts, groups, where: str) -> tuple[str, ...]:
    """Host names and groups, expanded, in inventory order."""
    if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw):
        raise ConfigError("expected a list of host or group names", where=where, hint="e.g. [site-a]")
    chosen = set()
    for name in raw:
        if name in groups:
            chosen.update(groups[name])
        elif name in hosts:
            chosen.add(name)
        else:
            raise ConfigError(f"no such host or group: {shown(name)}", where=where,
                              hint=f"the hosts are {', '.join(hosts)}")
    return tuple(name for name in hosts if name in chosen)


def _batch(value, where: str) -> str:
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    match = re.fullmatch(r"([1-9][0-9]{0,3})(%?)", text)
    if not match or (match.group(2) and int(match.group(1)) > 100):
        raise ConfigError(f"{shown(value)} is not a batch size", where=where,
                          hint='a number of hosts (2), or a share of the hosts after the canary ("25%")')
    return text


def _gate(raw, where: str) -> Gate:
    if not isinstance(raw, Mapping):
        raise ConfigError("expected a mapping", where=where, hint="{health_records: 2, timeout: 900} or {wait: 120}")
    config.known(raw, ("health_records", "timeout", "wait"), where)
    values = {}
    if "wait" in raw and "health_records" in raw:
        raise ConfigError("both a fixed wait and health records", where=where,
                          hint="give one: {wait: 120} or {health_records: 2, timeout: 900}")
    for key, low, high in (("health_records", 1, 1000), ("timeout", 10, 86400), ("wait", 0, 86400)):
        if key in raw:
            values[key] = config.integer(raw, key, where, low, high)
    if "wait" in values:
        values["health_records"] = 0
    return Gate(**values)
