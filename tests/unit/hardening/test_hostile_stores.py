"""Decommissioning trusts nothing it reads from disk: manifests with hostile digests, linked
directories, journals and quarantine manifests that point elsewhere, malformed files. Each case
is refused with an error naming the file, before any journal is written, and nothing is lost."""
import json
import os
import shutil

import pytest

from decommission import collect
from decommission.store import check_path, owned, refuse_if_unsafe
from sandbox.store import Store, build
from core.errors import MigrationError, UnsafeStore

SMALL = "manifests/registry.ollama.ai/library/qwen2/1.5b"
BIG = "manifests/registry.ollama.ai/library/qwen2/7b"


@pytest.fixture
def world(tmp_path):
    store = tmp_path / "volume" / "models"
    build(store, size_gb=0.01)
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    files = {p.relative_to(store): p.read_bytes() if p.stat().st_size < 1 << 20 else p.stat().st_size
             for p in store.rglob("*") if p.is_file()}
    return store, deploy, files


def shared_blob(store):
    small = Store(store).digests(Store(store).load(store / SMALL))
    big = Store(store).digests(Store(store).load(store / BIG))
    return next(d for d in big if d in small)


def with_digest(store, digest):
    manifest = json.loads((store / BIG).read_text())
    manifest["layers"].append({"mediaType": "application/vnd.ollama.image.license", "digest": digest, "size": 1})
    (store / BIG).write_text(json.dumps(manifest))


def decommission_offline(store, deploy, force=False):
    found = owned(store, "qwen2:7b")
    refuse_if_unsafe(found, force)
    return collect.delete(deploy, store, found, lambda *a, **k: None)


def other_model_whole(store):
    small = store / SMALL
    return small.is_file() and all((store / "blobs" / d.replace(":", "-")).is_file()
                                   for d in Store(store).digests(Store(store).load(small)))


HOSTILE_DIGESTS = [
    ("blob of another model", lambda s: f"sha256:x/../{shared_blob(s).replace(':', '-')}"),
    ("another model's manifest", lambda s: "sha256:x/../../" + SMALL),
    ("dot-dot", lambda s: ".."),
    ("uppercase hex", lambda s: "sha256:" + "A" * 64),
    ("not a string", lambda s: 42),
]


@pytest.mark.parametrize("case, digest", HOSTILE_DIGESTS, ids=[c for c, _ in HOSTILE_DIGESTS])
def test_a_hostile_digest_is_refused_before_any_journal(world, case, digest):
    store, deploy, _ = world
    with_digest(store, digest(store))
    for _ in range(2):  # and again: a rerun meets the same clear error, not a crash
        with pytest.raises(UnsafeStore) as err:
            decommission_offline(store, deploy, force=True)
        assert "sha256:<64 hex>" in err.value.message and BIG in err.value.message
        assert collect.read_journal(deploy) is None
    assert other_model_whole(store) and (store / BIG).is_file()


@pytest.mark.parametrize("text", ["{not json", "[]", '{"config": {}, "layers": []}', "\ufffd not json"])
def test_a_malformed_manifest_names_the_file(world, text):
    store, deploy, _ = world
    (store / SMALL).write_text(text)
    with pytest.raises(UnsafeStore) as err:
        decommission_offline(store, deploy, force=True)
    assert SMALL in err.value.message and "Traceback" not in err.value.message
    assert collect.read_journal(deploy) is None and (store / BIG).is_file()


def test_a_model_behind_a_linked_directory_keeps_its_blobs(world, tmp_path):
    """The small model's manifest lives elsewhere and is reached through a directory link under
    manifests/: without --force that is refused; with it, its blobs still count."""
    store, deploy, _ = world
    elsewhere = tmp_path / "mirror" / "qwen2"
    elsewhere.mkdir(parents=True)
    shutil.move(str(store / SMALL), str(elsewhere / "1.5b"))
    (store / "manifests/registry.ollama.ai/mirror").mkdir()
    (store / "manifests/registry.ollama.ai/mirror/qwen2").symlink_to(elsewhere)
    with pytest.raises(UnsafeStore) as err:
        decommission_offline(store, deploy)
    assert "symlink" in err.value.message and str(elsewhere) in err.value.message
    decommission_offline(store, deploy, force=True)
    small = Store(store).digests(json.loads((elsewhere / "1.5b").read_text()))
    assert all((store / "blobs" / d.replace(":", "-")).is_file() for d in small)
    assert (elsewhere / "1.5b").is_file() and not (store / BIG).exists()


@pytest.mark.parametrize("part", ["manifests", "blobs"])
def test_a_linked_top_directory_is_refused(world, tmp_path, part):
    store, _, _ = world
    shutil.move(str(store / part), str(tmp_path / part))
    (store / part).symlink_to(tmp_path / part)
    with pytest.raises(UnsafeStore, match=f"{part}/ is a symlink"):
        check_path(store, store)


def test_an_unknown_store_refuses_to_replay_a_journal(world, tmp_path):
    store, deploy, _ = world
    found = owned(store, "qwen2:7b")
    collect._journal(deploy, {"mode": "delete", "model": "qwen2:7b", "root": str(store), "started": 0,
                              "files": collect.plan_entries(found)})
    with pytest.raises(UnsafeStore, match="cannot be found"):
        collect.finish(deploy, lambda *a, **k: None, None)
    assert all(p.exists() for p, _, _ in found.remove)


@pytest.mark.parametrize("text", ["{", '{"mode": "delete"}', '{"mode": "delete", "root": "/x", "files": [1]}'])
def test_a_malformed_journal_is_a_clear_error(world, text):
    _, deploy, _ = world
    (deploy / collect.JOURNAL).write_text(text)
    with pytest.raises(MigrationError) as err:
        collect.read_journal(deploy)
    assert collect.JOURNAL in err.value.message and "malformed" in err.value.message


def test_a_quarantine_journal_replays_only_into_the_configured_quarantine(world, tmp_path):
    store, deploy, _ = world
    found = owned(store, "qwen2:7b")
    entries = [{**e, "rel": os.path.relpath(e["path"], store)} for e in collect.plan_entries(found)]
    collect._journal(deploy, {"mode": "quarantine", "model": "qwen2:7b", "root": str(store), "files": entries,
                              "batch": str(tmp_path / "anywhere" / "b"), "started": 0})
    with pytest.raises(UnsafeStore, match="quarantine"):
        collect.finish(deploy, lambda *a, **k: None, store, tmp_path / "volume" / "quarantine")
    assert all(p.exists() for p, _, _ in found.remove)


RESTORE_TAMPERING = [
    ("another root", lambda data, tmp: {**data, "root": str(tmp / "victim-dir")}, "not from the configured store"),
    ("rel climbs out", lambda data, tmp: {**data, "files": [{**data["files"][0], "rel": "../../victim"}]},
     "outside the store"),
    ("absolute rel", lambda data, tmp: {**data, "files": [{**data["files"][0], "rel": str(tmp / "victim")}]},
     "outside the store"),
]


@pytest.mark.parametrize("case, tamper, words", RESTORE_TAMPERING, ids=[c for c, _, _ in RESTORE_TAMPERING])
def test_restore_trusts_no_quarantine_manifest(world, tmp_path, case, tamper, words):
    store, deploy, _ = world
    (tmp_path / "victim-dir").mkdir()
    batch = collect.quarantine(deploy, store, owned(store, "qwen2:7b"), tmp_path / "volume" / "q", lambda *a, **k: None)
    manifest = batch / collect.BATCH_MANIFEST
    manifest.write_text(json.dumps(tamper(json.loads(manifest.read_text()), tmp_path)))
    with pytest.raises(UnsafeStore, match=words):
        collect.restore(batch, lambda *a, **k: None, store)
    assert not (tmp_path / "victim").exists() and not any((tmp_path / "victim-dir").iterdir())
    assert batch.is_dir() and not (store / BIG).exists()


def test_a_malformed_quarantine_manifest_names_the_file(world, tmp_path):
    store, deploy, _ = world
    batch = collect.quarantine(deploy, store, owned(store, "qwen2:7b"), tmp_path / "volume" / "q", lambda *a, **k: None)
    (batch / collect.BATCH_MANIFEST).write_text("[1, 2")
    with pytest.raises(MigrationError) as err:
        collect.restore(batch, lambda *a, **k: None, store)
    assert collect.BATCH_MANIFEST in err.value.message
