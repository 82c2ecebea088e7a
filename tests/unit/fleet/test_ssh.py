"""adapters/ssh.py's failures are SSHErrors naming the host and what next (never a paramiko
traceback), and accept-new appends to known_hosts without rewriting it. Loopback only."""
import socket

import paramiko
import pytest

from adapters import ssh


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_listening_is_unreachable(tmp_path):
    (tmp_path / "known").write_text("")
    with pytest.raises(ssh.SSHError, match="unreachable") as err:
        ssh.connect("127.0.0.1", port=closed_port(), known_hosts=str(tmp_path / "known"), timeout=2)
    assert err.value.where.startswith("127.0.0.1:") and "sshd runs there" in err.value.message


@pytest.mark.parametrize("line, words", [
    ("@revoked * ssh-ed25519 AAAAnot-base64", "cannot read"),   # paramiko raises a plain Exception here
    ("[127.0.0.1]:22 ssh-ed25519 ###", "unreachable"),          # a line paramiko skips: the host is tried
])
def test_a_known_hosts_line_it_cannot_read_is_an_ssherror_never_a_traceback(tmp_path, line, words):
    (tmp_path / "known").write_text(line + "\n")
    with pytest.raises(ssh.SSHError) as err:
        ssh.connect("127.0.0.1", port=closed_port(), known_hosts=str(tmp_path / "known"), timeout=2)
    assert words in err.value.message


def test_accept_new_appends_one_line_and_keeps_the_rest(tmp_path):
    known = tmp_path / "known"
    known.write_text("# the operator's comment\n@cert-authority *.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n")
    before = known.read_text()
    key = paramiko.RSAKey.generate(1024)   # paramiko generates no Ed25519 key
    client = paramiko.SSHClient()
    ssh._AddNew(known).missing_host_key(client, "[127.0.0.1]:2201", key)
    text = known.read_text()
    assert text.startswith(before) and text[len(before):] == f"[127.0.0.1]:2201 {key.get_name()} {key.get_base64()}\n"
    assert client.get_host_keys().lookup("[127.0.0.1]:2201") is not None


def test_a_host_missing_from_known_hosts_is_refused_by_our_own_policy():
    """Told apart by its type, not by the words of paramiko's RejectPolicy."""
    with pytest.raises(ssh._Unknown):
        ssh._Reject().missing_host_key(paramiko.SSHClient(), "[127.0.0.1]:2201", paramiko.RSAKey.generate(1024))
