"""Decommissioning on the sandbox, with the real engine and the Ollama emulator's store."""
from pathlib import Path

import httpx
import ollama
import pytest
import yaml


from core import state
from sandbox.store import Store, blob_path

from . import endpoints
from .conftest import config_variant, invoke, reach


@pytest.fixture(scope="module")
def cfg(sandbox_config, sandbox_up, tmp_path_factory, docker_client):
    # Quarantine moves files, so it must sit on the same mount as the volume.
    volumes = volume_store(docker_client, sandbox_up).parent.parent.parent
    qdir = volumes / f"{sandbox_up}-quarantine"
    yield config_variant(sandbox_config, tmp_path_factory.mktemp("v"),
                         **{"gates.history_records": 1, "decommission.drain_timeout": 10}), qdir
    import shutil
    shutil.rmtree(qdir, ignore_errors=True)


def volume_store(docker_client, project) -> Path:
    return Path(docker_client.volumes.get(f"{project}_ollama").attrs["Mountpoint"]) / "models"


def run(config, *args):
    done = invoke(config, *args, check=False)
    return done.returncode, done.stdout + done.stderr


def test_refused_while_the_local_llm_has_weight(cfg):
    config, _ = cfg
    reach(config, 2)
    rc, out = run(config, "decommission", "--yes")
    assert rc == 2 and "still sends weight 30" in out
    assert "xiaozhi-local-llm (running)" in out


def test_stage_3_decommissions_keeping_shared_blobs(cfg, sandbox_up, docker_client):
    config, _ = cfg
    reach(config, 2)
    store = volume_store(docker_client, sandbox_up)
    s = Store(store)
    big = set(s.digests(s.load(s.find("qwen2:7b"))))
    small = set(s.digests(s.load(s.find("qwen2:1.5b"))))
    planned = sum(blob_path(store, d).stat().st_size for d in big - small) + s.find("qwen2:7b").stat().st_size
    assert invoke(config, "health", check=False).returncode == 0
    rc, out = run(config, "phase", "--stage", "3", "--yes")
    assert rc == 0, out
    assert "Ollama's DELETE /api/delete" in out and f"bytes to free: {planned} " in out
    with pytest.raises(Exception):
        docker_client.containers.get("xiaozhi-local-llm")
    with pytest.raises(httpx.ConnectError):
        httpx.get(endpoints.LOCAL + "/", timeout=2)
    assert Store(store).find("qwen2:7b") is None and Store(store).find("qwen2:1.5b") is not None
    assert all(blob_path(store, d).exists() for d in small)
    assert not any(blob_path(store, d).exists() for d in big - small)
    done = [e for e in state.audit_tail(Path(yaml.safe_load(config.read_text())["migrate"]["deploy_dir"]), 30)
            if e["event"] == "decommission-done"]
    assert done and done[-1]["bytes_freed"] == planned
    rc, out = run(config, "health")
    assert rc == 0, out


def test_second_run_has_nothing_to_do(cfg):
    config, _ = cfg
    reach(config, 3, decommissioned=True)
    rc, out = run(config, "decommission", "--yes")
    assert rc == 0 and "nothing to decommission" in out


def test_rollback_without_the_model_is_refused(cfg):
    config, _ = cfg
    reach(config, 3, decommissioned=True)
    rc, out = run(config, "rollback", "--yes")
    assert rc == 1 and "not in the store" in out and "decommission.restore" in out


def test_quarantine_restore_and_rollback_bring_the_model_back(cfg, sandbox_up, docker_client, tmp_path):
    config, qdir = cfg
    reach(config, 3, decommissioned=True)
    store = volume_store(docker_client, sandbox_up)
    from sandbox.store import build
    build(store, size_gb=4.4)                       # the operator pulls the model again
    rc, out = run(config, "rollback", "--yes")
    assert rc == 0, out
    assert invoke(config, "health", check=False).returncode == 0
    quarantined = config_variant(config, tmp_path, **{"decommission.quarantine_dir": str(qdir)})
    rc, out = run(config_variant(config, tmp_path, **{"decommission.quarantine_dir": "/tmp/elsewhere-xz"}),
                  "decommission", "--yes", "--force")
    assert rc == 2 and "cannot be moved" in out and Store(store).find("qwen2:7b") is not None, out
    rc, out = run(quarantined, "phase", "--stage", "3", "--yes")
    assert rc == 0 and "move to quarantine" in out, out
    assert Store(store).find("qwen2:7b") is None and any(qdir.iterdir())
    batches = sorted(qdir.rglob("quarantine.json"))
    for asked in (("decommission.purge", "--older-than", "0h"), ("decommission.restore",)):
        rc, out = run(quarantined, *asked)     # stdin closed, no --yes: listed, nothing changed
        assert rc == 1 and "not confirmed: nothing was changed" in out and "qwen2:7b" in out, out
        assert sorted(qdir.rglob("quarantine.json")) == batches and Store(store).find("qwen2:7b") is None
    rc, out = run(quarantined, "decommission.restore", "--yes")
    assert rc == 0 and "restored qwen2:7b" in out and "rollback --to 2" in out, out
    rc, out = run(config, "rollback", "--yes")
    assert rc == 0, out
    assert "qwen2:7b" in {m.model for m in ollama.Client(host=endpoints.LOCAL).list().models}
    assert not any(qdir.iterdir())


def test_container_removed_by_hand_then_offline_collector(cfg, sandbox_up, docker_client):
    config, _ = cfg
    reach(config, 2)
    docker_client.containers.get("xiaozhi-local-llm").remove(force=True)
    store = volume_store(docker_client, sandbox_up)
    rc, out = run(config, "decommission", "--yes", "--force")   # force: stage 2 still weights local
    assert rc == 0 and "offline collector" in out and "absent" in out, out
    assert Store(store).find("qwen2:7b") is None and Store(store).find("qwen2:1.5b") is not None


def test_symlink_pointing_outside_is_refused(cfg, sandbox_up, docker_client, tmp_path):
    config, _ = cfg
    reach(config, 2)
    store = volume_store(docker_client, sandbox_up)
    from sandbox.store import build
    build(store, size_gb=0.1)
    s = Store(store)
    weights = blob_path(store, s.load(s.find("qwen2:7b"))["layers"][0]["digest"])
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"not the store's")
    weights.unlink()
    weights.symlink_to(outside)
    rc, out = run(config, "decommission", "--yes")
    assert rc == 2 and "still sends weight" in out          # preconditions come first
    rc, out = run(config, "decommission", "--yes", "--force")
    assert rc == 0 and "never followed (symlink)" in out, out
    assert outside.read_bytes() == b"not the store's"
    assert weights.is_symlink() and s.find("qwen2:7b") is None  # the link itself is left untouched
    weights.unlink()


def test_crash_mid_removal_then_rerun_completes_without_extra_deletes(cfg, sandbox_up, docker_client):
    config, _ = cfg
    reach(config, 2)
    from decommission import collect
    from decommission.store import owned
    store = volume_store(docker_client, sandbox_up)
    deploy = Path(yaml.safe_load(config.read_text())["migrate"]["deploy_dir"])
    found = owned(store, "qwen2:7b")
    # What a run killed right after removing the manifest leaves: its journal, and the blobs.
    collect._journal(deploy, {"mode": "delete", "model": found.model, "root": str(store),
                              "files": collect.plan_entries(found), "started": 0})
    found.remove[0][0].unlink()
    every_blob = {p.name for p in (store / "blobs").iterdir()}
    rc, out = run(config, "decommission", "--yes", "--force")
    assert rc == 0 and "stopped half-way: completing it from its journal" in out, out
    left = {p.name for p in (store / "blobs").iterdir()}
    assert every_blob - left == {p.name for p, _, _ in found.remove[1:]}
    assert s_find(store, "qwen2:1.5b") is not None and collect.read_journal(deploy) is None


def s_find(store, model):
    return Store(store).find(model)


def test_purge_removes_the_model_volume_only_when_asked_and_nothing_else_lives_in_it(cfg, sandbox_up,
                                                                                     docker_client):
    """The volume still holds qwen2:1.5b and the blobs it shares: --purge keeps it whole and says
    why; only the explicit --purge-whole-volume removes it (#15: purge destroyed other models)."""
    config, _ = cfg
    reach(config, 2)
    name = f"{sandbox_up}_ollama"
    store = volume_store(docker_client, sandbox_up)
    rc, out = run(config, "decommission", "--yes", "--force")
    assert docker_client.volumes.get(name), out            # without --purge the volume stays
    small = Store(store).digests(Store(store).load(Store(store).find("qwen2:1.5b")))
    rc, out = run(config, "decommission", "--dry-run", "--purge")
    assert rc == 0 and "stays: qwen2:1.5b: its manifest and 5 blob(s)" in out and "volume KEPT" in out, out
    rc, out = run(config, "decommission", "--yes", "--force", "--purge")
    assert rc == 0 and "volume KEPT" in out and "--purge-whole-volume" in out, out
    assert docker_client.volumes.get(name)
    assert all(blob_path(store, d).is_file() for d in small), "a blob of qwen2:1.5b was lost"
    rc, out = run(config, "decommission", "--yes", "--force", "--purge", "--purge-whole-volume")
    assert rc == 0 and "volume REMOVED (--purge --purge-whole-volume" in out, out
    assert name not in {v.name for v in docker_client.volumes.list()}
