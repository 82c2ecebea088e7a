"""A model is relied on only when whole, on the real engine: health names a truncated blob, and
after a stage-3 decommission with quarantine, a blob removed by hand makes restore fail naming it
and rollback refuse with the repair command; once repaired, the way back works."""
import json
from pathlib import Path

import pytest

from sandbox.store import Store, blob_path

from .conftest import config_variant, invoke


@pytest.fixture(scope="module")
def cfg(sandbox_config, sandbox_up, tmp_path_factory, docker_client):
    store = Path(docker_client.volumes.get(f"{sandbox_up}_ollama").attrs["Mountpoint"]) / "models"
    qdir = store.parent.parent.parent / f"{sandbox_up}-quarantine"
    yield config_variant(sandbox_config, tmp_path_factory.mktemp("v"),
                         **{"gates.history_records": 1, "decommission.quarantine_dir": str(qdir)}), store
    import shutil
    shutil.rmtree(qdir, ignore_errors=True)


def template_blob(store):
    s = Store(store)
    layers = s.load(s.find("qwen2:1.5b"))["layers"]  # shared by both models: it stays in the store
    return blob_path(store, next(l["digest"] for l in layers if l["mediaType"].endswith("template")))


def health(config):
    done = invoke(config, "health", "--json", check=False)
    return done.returncode, {c["name"]: c for c in json.loads(done.stdout)["checks"]}


def test_damage_is_found_named_and_repairable(cfg):
    config, store = cfg
    for stage in ("1", "2"):
        invoke(config, "phase", "--stage", stage, "--yes")
    rc, checks = health(config)
    assert rc == 0 and checks["local.integrity"]["status"] == "OK", checks["local.integrity"]

    blob = template_blob(store)
    whole = blob.read_bytes()
    blob.write_bytes(whole[:10])                       # truncated
    rc, checks = health(config)
    assert rc == 2 and checks["local.integrity"]["status"] == "CRITICAL"
    assert "bytes, the manifest says" in checks["local.integrity"]["actual"] and "ollama pull" in checks["local.integrity"]["actual"]
    blob.write_bytes(whole)
    assert health(config)[0] == 0                      # a record for the stage-3 gate

    invoke(config, "phase", "--stage", "3", "--yes")   # decommissions into the quarantine
    assert Store(store).find("qwen2:7b") is None
    blob.unlink()                                      # the operator's (or a script's) mistake
    done = invoke(config, "decommission.restore", "--yes", check=False)
    assert done.returncode == 1 and blob.name in done.stderr and "not whole" in done.stderr, done.stderr
    done = invoke(config, "rollback", "--to", "2", "--yes", check=False)
    assert done.returncode == 1 and blob.name in done.stderr and "ollama pull qwen2:7b" in done.stderr, done.stderr

    blob.write_bytes(whole)                            # repaired
    done = invoke(config, "rollback", "--to", "2", "--yes", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rc, checks = health(config)
    assert rc == 0 and checks["local.integrity"]["status"] == "OK"
