"""Thin adapter over Fabric (Invoke's sibling) for the fleet: one connection per host, its host key
checked against the user's known_hosts, commands run with their exit code. The only module that
imports fabric or paramiko. Errors are SSHError, saying what failed on which host and what next;
key files are read by paramiko from the paths named, never printed."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import threading

from fabric import Connection
from invoke.exceptions import CommandTimedOut
from paramiko import MissingHostKeyPolicy
from paramiko.ssh_exception import AuthenticationException, BadHostKeyException, SSHException

from core.errors import MigrationError


class SSHError(MigrationError):
    """A host could not be reached, was not who known_hosts says, or refused the login."""
    exit_code = 3


@dataclass(frozen=True)
class Done:
    code: int
    stdout: str
    stderr: str


_KNOWN_HOSTS_LOCK = threading.Lock()


class _Unknown(SSHException):
    """The host is not in known_hosts and the inventory does not accept new ones."""


class _Reject(MissingHostKeyPolicy):
    """paramiko's RejectPolicy, raising our own exception (told apart by type, not by its words)."""

    def missing_host_key(self, client, hostname, key):
        raise _Unknown(hostname)


class _AddNew(MissingHostKeyPolicy):
    """OpenSSH's accept-new: a host not yet known is trusted and its key appended to known_hosts
    (one line, under a lock: hosts are asked in parallel), the rest of the file untouched
    (paramiko's AutoAddPolicy rewrites the whole file, comments and markers lost)."""

    def __init__(self, path: Path):
        self.path = path

    def missing_host_key(self, client, hostname, key):
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with _KNOWN_HOSTS_LOCK:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        client.get_host_keys().add(hostname, key.get_name(), key)


def connect(host: str, *, port: int = 22, user: str | None = None, key_file: str | None = None,
            known_hosts: str = "~/.ssh/known_hosts", accept_unknown: bool = False, timeout: int = 10):
    """An open Fabric Connection. A host missing from ``known_hosts`` is refused unless
    ``accept_unknown`` (then its key is added to the file, as OpenSSH's accept-new); a host whose
    key differs from the one recorded is always refused."""
    where = f"{user + '@' if user else ''}{host}:{port}"
    known = Path(os.path.expanduser(known_hosts))
    kwargs = {"look_for_keys": key_file is None, "allow_agent": key_file is None}
    if key_file:
        kwargs["key_filename"] = os.path.expanduser(key_file)
    try:
        conn = Connection(host, user=user, port=port, connect_timeout=timeout, connect_kwargs=kwargs)
    except Exception as exc:   # Fabric's own checks (a port given twice, say)
        raise SSHError(f"not a host Fabric can reach: {str(exc)[:200]}", where=where) from None
    conn.client.set_missing_host_key_policy(_AddNew(known) if accept_unknown else _Reject())
    try:
        if known.exists():   # read only: never written back (paramiko's own save would rewrite it)
            conn.client.get_host_keys().load(str(known))
    except Exception as exc:   # paramiko raises plain Exception types for lines it cannot read
        raise SSHError(f"cannot read {known}: {str(exc)[:200]}", where=where,
                       hint="fix the file (or name another with migrate.fleet.known_hosts)") from None
    try:
        conn.open()
    except BadHostKeyException:
        raise SSHError("its host key is not the one known_hosts records for it", where=where,
                       hint=f"if the host was reinstalled, check its new key out of band, then `ssh-keygen -R "
                            f"{_known_name(host, port)} -f {known}` and connect once; otherwise someone may be "
                            "in between: do not go on") from None
    except AuthenticationException:
        raise SSHError("the login was refused", where=where,
                       hint="check the user and migrate.fleet.hosts.NAME.key_file (the file is read, never shown)") from None
    except _Unknown:
        raise SSHError(f"the host is not in {known}", where=where,
                       hint=f"check its key out of band and add it (`ssh-keyscan -p {port} {host} >> {known}` "
                            "after comparing the fingerprint), or set migrate.fleet.accept_unknown_hosts: "
                            "true to add it on first use") from None
    except OSError as exc:   # refused, timed out, no such name (paramiko's NoValidConnectionsError is one)
        raise SSHError(f"unreachable: {exc.__class__.__name__}: {str(exc)[:200]}", where=where,
                       hint="check the address, the port and that sshd runs there") from None
    except SSHException as exc:
        raise SSHError(f"SSH failed: {str(exc)[:200]}", where=where) from None
    except Exception as exc:   # anything else paramiko raises: still this host's failure, said
        raise SSHError(f"SSH failed: {exc.__class__.__name__}: {str(exc)[:200]}", where=where) from None
    transport = conn.client.get_transport()
    if transport is not None:
        transport.set_keepalive(30)   # through pauses and gates between commands
    return conn


def run(conn, command: str, timeout: int = 3600) -> Done:
    """``command`` on the host (a shell line the caller quoted), its exit code and output; never
    raises on a non-zero exit."""
    try:
        result = conn.run(command, hide=True, warn=True, timeout=timeout, in_stream=False)
    except CommandTimedOut:
        raise SSHError(f"no answer within {timeout} s", where=f"{conn.host}: {command[:120]}",
                       hint="the command may still be running there: look before running it again") from None
    except (OSError, EOFError, SSHException) as exc:
        raise SSHError(f"the connection dropped: {exc}", where=conn.host,
                       hint="the command may have run: `invoke status` on the host says where it is") from None
    return Done(result.exited, result.stdout, result.stderr)


def _known_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"
