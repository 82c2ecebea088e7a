"""Issue 25 on the real engine: four "hosts", each a container running sshd (Debian's, on the
sandbox image) with this checkout's toolkit mounted at its own path, its own deploy folder,
Compose project, container names and ports of the sandbox stack (the hosts share this machine's
engine through its socket, and its loopback: --network host). The fleet reaches them over SSH with
Fabric, host keys checked against a known_hosts file of the test's own."""
import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from . import endpoints
from .conftest import ROOT, invoke, project_resources

IMAGE = "xiaozhi-fleet-host:test"
HOSTS = ("h1", "h2", "h3", "h4")
BASE_PORT = 22000 + (uuid.uuid4().int % 500) * 10   # this session's: ssh BASE+i, stack ports around BASE+100


def ports(i: int) -> dict:
    base = BASE_PORT + 100 + i * 5
    return {"ssh": BASE_PORT + i, "local": base, "api": base + 1, "llm": base + 2}


def keypair(path: Path) -> str:
    """A new ed25519 key at ``path``; its public line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return Path(f"{path}.pub").read_text().strip()


def host_config(name: str, i: int, tmp: Path) -> Path:
    data = yaml.safe_load((ROOT / "sandbox.yaml").read_text())
    m, p = data["migrate"], ports(i)
    m.update(project=endpoints.project(), deploy_dir=str(tmp / name / "deploy"))   # scripts/clear-test-stacks.sh knows it
    m["local_llm"].update(container=f"xzfleet-local-llm-{name}-{BASE_PORT}", publish=p["local"],
                          url=f"http://xzfleet-local-llm-{name}-{BASE_PORT}:11434",
                          probe_url=f"http://127.0.0.1:{p['local']}")
    m["extra_services"]["dashscope"]["publish"] = p["api"]
    m["api"]["probe_url"] = f"http://127.0.0.1:{p['api']}/compatible-mode/v1"
    m["services"]["llm-service"]["publish"] = p["llm"]
    m["gates"]["history_records"] = 1
    # fleet.health is compared with each host's own runs made later: a first token slower than
    # 400 ms under the four stacks' load must not make them differ (latency has its own tests)
    m.setdefault("health", {}).update(local_warn_ms=4000, local_crit_ms=8000, api_warn_ms=4000, api_crit_ms=8000)
    path = tmp / name / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def build_image():
    done = subprocess.run(["docker", "build", "-q", "-t", IMAGE, str(Path(__file__).parent / "fleet_host")],
                          capture_output=True, text=True, timeout=900)
    if done.returncode:
        pytest.fail(f"cannot build {IMAGE} (sshd from Debian's packages): {done.stderr[-800:]}")


def start_host(name: str, i: int, tmp: Path, authorized: Path) -> None:
    keys = tmp / name / "keys"
    shutil.copy(authorized, keys / "authorized_keys")
    python_home = Path(sys.base_prefix).resolve()
    argv = ["docker", "run", "-d", "--name", f"xzfleet-sshd-{name}-{BASE_PORT}", "--network", "host",
            "--label", f"xzfleet={BASE_PORT}",   # scripts/clear-test-stacks.sh removes what a stopped run left
            "-v", f"{ROOT}:{ROOT}:ro", "-v", f"{python_home}:{python_home}:ro",
            "-v", f"{tmp / name}:{tmp / name}", "-v", f"{keys}:/keys:ro",
            "-v", "/var/run/docker.sock:/var/run/docker.sock",
            # the engine's volumes where a host has them: the Ollama store is read there
            "-v", "/var/lib/docker/volumes:/var/lib/docker/volumes",
            "-v", f"{shutil.which('docker')}:/usr/local/bin/docker:ro"]
    for plugins in ("/usr/local/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins", "/usr/lib/docker/cli-plugins",
                    str(Path.home() / ".docker" / "cli-plugins")):
        if Path(plugins, "docker-compose").exists():
            argv += ["-v", f"{plugins}:/usr/local/lib/docker/cli-plugins:ro"]
            break
    argv += [IMAGE, "/usr/sbin/sshd", "-D", "-e", "-p", str(ports(i)["ssh"]), "-o", "ListenAddress=127.0.0.1",
             "-h", "/keys/host", "-o", "AuthorizedKeysFile=/keys/authorized_keys", "-o", "StrictModes=no",
             "-o", "PasswordAuthentication=no", "-o", "PermitRootLogin=prohibit-password",
             "-o", f"PidFile=/run/sshd-{name}.pid"]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    port, deadline = ports(i)["ssh"], time.monotonic() + 30
    while True:   # sshd listening before the fleet asks it
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"sshd of {name} is not listening on 127.0.0.1:{port} after 30 s")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, docker_client):
    tmp = tmp_path_factory.mktemp("fleet")
    build_image()
    client_key = tmp / "client_key"
    authorized = tmp / "authorized_keys"
    authorized.write_text(keypair(client_key) + "\n")
    known = []
    configs = {}
    try:
        for i, name in enumerate(HOSTS, 1):
            (tmp / name / "keys").mkdir(parents=True)
            public = keypair(tmp / name / "keys" / "host")
            known.append(f"[127.0.0.1]:{ports(i)['ssh']} {' '.join(public.split()[:2])}")
            configs[name] = host_config(name, i, tmp)
            invoke(configs[name], "sandbox.up")
            invoke(configs[name], "phase", "--stage", "1", "--yes")
            start_host(name, i, tmp, authorized)
        (tmp / "known_hosts").write_text("\n".join(known) + "\n")
        inventory = {"fleet": {
            "hosts": {name: {"host": "127.0.0.1", "port": ports(i)["ssh"], "user": "root", "key_file": str(client_key),
                             "folder": str(ROOT), "command": ".venv/bin/invoke", "config": str(configs[name])}
                      for i, name in enumerate(HOSTS, 1)},
            "canary": ["h1"], "batch": 2, "gate": {"health_records": 1, "timeout": 120}, "stop_after": 1,
            "known_hosts": str(tmp / "known_hosts"), "record": "record.json"}}
        path = tmp / "inventory.yaml"
        path.write_text(yaml.safe_dump(inventory))
        yield {"inventory": path, "configs": configs, "tmp": tmp, "data": inventory}
    finally:
        subprocess.run(f"docker ps -aq --filter label=xzfleet={BASE_PORT} | xargs -r docker rm -f", shell=True,
                       capture_output=True)
        for name, cfg in configs.items():
            invoke(cfg, "sandbox.down", check=False)
            project = yaml.safe_load(cfg.read_text())["migrate"]["project"]
            assert not any(project_resources(docker_client, project).values()), f"{name} left resources"


def fleet_run(fleet, *args, inventory=None, check=False):
    return invoke(ROOT / "sandbox.yaml", *args, "--inventory", str(inventory or fleet["inventory"]), check=check)


def stages(fleet) -> dict:
    return {name: json.loads(invoke(cfg, "status", "--json").stdout.strip().splitlines()[-1])["xiaozhi_migrate"]["stage"]
            for name, cfg in fleet["configs"].items()}


def test_a_stopped_rollout_then_a_resumed_one_with_status_after_each(fleet):
    h2 = yaml.safe_load(fleet["configs"]["h2"].read_text())["migrate"]
    api_h2 = h2["api"]["probe_url"].rsplit("/compatible-mode", 1)[0]
    httpx.post(api_h2 + "/_sandbox/knobs", json={"error_rate": 1.0}, timeout=5).raise_for_status()
    try:
        plan = fleet_run(fleet, "fleet.phase", "--stage", "2", "--dry-run")
        assert plan.returncode == 0 and "  canary: h1\n  batch 1: h2, h3\n  batch 2: h4" in plan.stdout, plan.stdout
        assert "dry run: nothing was changed on any host" in plan.stdout and set(stages(fleet).values()) == {1}
        done = fleet_run(fleet, "fleet.phase", "--stage", "2", "--yes")
        out = done.stdout + done.stderr
        print("\n--- the stopped rollout\n" + out)
        assert done.returncode == 1, out
        assert "canary: h1 -> stage 2" in out and "h1: gate passed" in out and "batch 1: h2, h3 -> stage 2" in out
        assert "h2: refused by its stage gate (exit 5)" in out and "h3: moved (exit 0)" in out, out
        assert "stopped: 1 failure(s) (h2), the budget is 1; not started: h4" in out, out
        assert stages(fleet) == {"h1": 2, "h2": 1, "h3": 2, "h4": 1}
        status = fleet_run(fleet, "fleet.status")
        print("\n--- fleet.status after it\n" + status.stdout)
        rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
        assert {name: rows[name][2] for name in HOSTS} == {"h1": "2", "h2": "1", "h3": "2", "h4": "1"}
        assert "refused by its stage gate (stage 2" in status.stdout
    finally:
        httpx.post(api_h2 + "/_sandbox/knobs", json={"error_rate": 0}, timeout=5).raise_for_status()
    done = fleet_run(fleet, "fleet.phase", "--stage", "2", "--yes")
    out = done.stdout + done.stderr
    print("\n--- the resumed rollout\n" + out)
    assert done.returncode == 0, out
    assert "h1: compose-env at stage 2 (there already)" in out and "h3: compose-env at stage 2 (there already)" in out
    assert "batch 1: h2, h4 -> stage 2" in out and "at stage 2: h1, h3, h2, h4" in out, out
    assert stages(fleet) == {name: 2 for name in HOSTS}
    status = fleet_run(fleet, "fleet.status")
    print("\n--- fleet.status after it\n" + status.stdout)
    assert status.returncode == 0
    back = fleet_run(fleet, "fleet.rollback", "--to", "1", "--yes")
    print("\n--- fleet.rollback --to 1\n" + back.stdout)
    assert back.returncode == 0 and "canary: h1 -> stage 1" in back.stdout, back.stdout + back.stderr
    assert stages(fleet) == {name: 1 for name in HOSTS}
    record = json.loads((fleet["tmp"] / "record.json").read_text())
    assert [r["result"] for r in record["runs"]] == ["stopped", "done", "done"]
    assert [r["command"] for r in record["runs"]] == ["phase", "phase", "rollback"]
    key = yaml.safe_load((ROOT / "sandbox.yaml").read_text())["migrate"]["api"]["key"]
    assert key not in out + status.stdout + back.stdout + (fleet["tmp"] / "record.json").read_text()


def test_fleet_health_agrees_with_each_hosts_own(fleet):
    done = fleet_run(fleet, "fleet.health", "--json")
    report = json.loads(done.stdout)
    own = {name: json.loads(invoke(cfg, "health", "--json", check=False).stdout)["status"]
           for name, cfg in fleet["configs"].items()}
    assert {name: r["status"] for name, r in report["hosts"].items()} == own
    assert done.returncode == max({"OK": 0, "WARNING": 1, "CRITICAL": 2}[s] for s in own.values())


def test_an_unreachable_host_and_a_wrong_or_unknown_host_key_are_refused_by_name(fleet, tmp_path):
    data = json.loads(json.dumps(fleet["data"]))
    data["fleet"]["hosts"]["h5"] = {"host": "127.0.0.1", "port": BASE_PORT + 9, "user": "root",
                                   "key_file": data["fleet"]["hosts"]["h1"]["key_file"], "folder": str(ROOT)}
    known = (fleet["tmp"] / "known_hosts").read_text().splitlines()
    other = keypair(tmp_path / "other")
    known[0] = f"[127.0.0.1]:{ports(1)['ssh']} {' '.join(other.split()[:2])}"      # h1: another key
    del known[2]                                                                    # h3: not known at all
    (tmp_path / "known_hosts").write_text("\n".join(known) + "\n")
    data["fleet"].update(known_hosts=str(tmp_path / "known_hosts"), record=str(tmp_path / "record.json"))
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    status = fleet_run(fleet, "fleet.status", inventory=path)
    out = status.stdout
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert status.returncode == 3, out
    assert "cannot ask: its host key is not the one known_hosts records for it" in rows["h1"], out
    assert "cannot ask: the host is not in" in rows["h3"] and "unreachable: " in rows["h5"], out
    assert rows["h2"].split()[2] in ("1", "2") and rows["h4"].split()[2] in ("1", "2"), out
    before = stages(fleet)
    done = fleet_run(fleet, "fleet.phase", "--stage", "2", "--yes", inventory=path)
    out = done.stdout + done.stderr
    assert done.returncode == 2 and "h5: cannot move: unreachable" in out, out
    assert "the canary h1 cannot move: no host moves before its canary" in out and stages(fleet) == before, out
    # accept_unknown_hosts: h3's key is added on first use (never h1's changed one)
    data["fleet"]["accept_unknown_hosts"] = True
    path.write_text(yaml.safe_dump(data))
    rows = {line.split()[0]: line for line in fleet_run(fleet, "fleet.status", inventory=path).stdout.splitlines()[1:]}
    assert "cannot ask" not in rows["h3"] and "cannot ask: its host key is not the one" in rows["h1"], rows
    assert f"[127.0.0.1]:{ports(3)['ssh']}" in (tmp_path / "known_hosts").read_text()
