"""Each host's own toolkit, reached over SSH (adapters/ssh.py, Fabric): the command lines, and
what its machine-readable answers say. The API key never travels: every command runs the host's
toolkit, which reads the key there as it always does (its deployed file or its environment)."""
from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass

from adapters import ssh
from core.errors import MigrationError
from core.secrets import mask_key_shapes
from fleet.inventory import Host, Inventory
from fleet.plan import HostNow

from core.cli import MARK   # noqa: E402  (the key of the one JSON line a task prints with --json)


@dataclass(frozen=True)
class Answer:
    code: int
    data: dict              # the task's JSON line ({} when it printed none)
    tail: str               # its last lines of output, for the operator


def command_line(host: Host, *args: str) -> str:
    """The shell line that runs ``invoke ARGS`` with the host's toolkit (its folder, -f file and
    overrides as INVOKE_MIGRATE_* variables: never a secret)."""
    env = [f"INVOKE_MIGRATE_{key.upper()}={shlex.quote(value)}" for key, value in host.overrides]
    parts = (["env", *env] if env else []) + [shlex.quote(host.command)]
    if host.config:
        parts += ["-f", _path(host.config)]
    parts += [shlex.quote(a) for a in args]
    line = " ".join(parts)
    return f"cd {_path(host.folder)} && {line}" if host.folder else line


def _path(path: str) -> str:
    """A path for the remote shell, quoted; a leading ~/ is the remote user's home."""
    return f'"$HOME"/{shlex.quote(path[2:])}' if path.startswith("~/") else shlex.quote(path)


def parse(stdout: str) -> dict:
    """The task's JSON line: the last line of its output that is a JSON object under MARK."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict) and isinstance(value.get(MARK), dict):
                return value[MARK]
    return {}


class Remote:
    """The hosts of an inventory, one SSH connection each, opened at first use."""

    def __init__(self, inventory: Inventory):
        self.inventory, self.connections = inventory, {}

    def _conn(self, host: Host):
        if host.name not in self.connections:
            inv = self.inventory
            self.connections[host.name] = ssh.connect(host.host, port=host.port, user=host.user, key_file=host.key_file,
                                                      known_hosts=inv.known_hosts, accept_unknown=inv.accept_unknown_hosts,
                                                      timeout=inv.connect_timeout)
        return self.connections[host.name]

    def ask(self, host: Host, *args: str, timeout: int = 3600) -> Answer:
        done = ssh.run(self._conn(host), command_line(host, *args), timeout=timeout)
        lines = [line for line in (done.stdout + done.stderr).strip().splitlines() if line.strip()]
        return Answer(done.code, parse(done.stdout), mask_key_shapes(" | ".join(lines[-3:])))

    def status(self, host: Host) -> HostNow:
        try:
            answer = self.ask(host, "status", "--json", timeout=120)
        except MigrationError as exc:
            return HostNow(host.name, problem=exc.what)
        except Exception as exc:   # one host's surprise is that host's problem, never the fleet's crash
            return HostNow(host.name, problem=f"{exc.__class__.__name__}: {str(exc)[:200]}")
        data = answer.data
        if not data:
            return HostNow(host.name, problem=f"its toolkit gave no status (exit {answer.code}): {answer.tail[-300:]}")
        stage, pending = data.get("stage"), data.get("pending")
        odd = [f"{key} {str(value)[:40]!r}" for key, value, ok in (
            ("stage", stage, stage is None or number(stage) and stage == int(stage)),
            ("pending", pending, pending is None or isinstance(pending, dict))) if not ok]
        if odd:   # what a plan is made of: a host that says something else is not moved, never guessed at
            return HostNow(host.name, problem=mask_key_shapes(f"its status answer has {' and '.join(odd)}, not what "
                                                              "this toolkit writes: is it the same toolkit?"))
        since, health = data.get("since"), data.get("last_health")
        return HostNow(host.name, version=str(data.get("toolkit", "")), target=str(data.get("target", "")),
                       stage=None if stage is None else int(stage), pending=pending,
                       since=since if number(since) else None,
                       last_health=health if isinstance(health, dict) else None)

    def health(self, host: Host) -> tuple[int, dict]:
        """(its exit code, its `invoke health --json` report: status, checks, ...)."""
        done = ssh.run(self._conn(host), command_line(host, "health", "--json"), timeout=300)
        try:
            report = json.loads(done.stdout)
        except ValueError:
            report = {}
        return done.code, report if isinstance(report, dict) else {}

    def close(self) -> None:
        for conn in self.connections.values():
            conn.close()
        self.connections.clear()


def number(value) -> bool:
    """A finite JSON number (JSON's true is not one; Python's json reads Infinity and NaN)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
