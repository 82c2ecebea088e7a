"""The offline collector on real store directories: shared blobs survive, hostile inputs are
refused, and a crash half-way is completed without deleting anything extra."""
import json
import os

import pytest

from decommission import collect, drain
from decommission.store import UnsafeStore, check_path, owned, refuse_if_unsafe
from sandbox.store import Store, build


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "volume" / "models"
    build(root, size_gb=0.01)
    return root


@pytest.fixture
def deploy(tmp_path):
    d = tmp_path / "deploy"
    d.mkdir()
    return d


def events():
    seen = []
    return seen, (lambda event, **fields: seen.append((event, fields)))


def test_owned_lists_only_unshared_blobs(store):
    found = owned(store, "qwen2:7b")
    small = set(Store(store).digests(Store(store).load(Store(store).find("qwen2:1.5b"))))
    assert found.manifest is not None and not found.missing and not found.links
    assert [p.name for p, _ in found.shared] and all(d in small for _, d in found.shared)
    assert not any(digest in small for _, _, digest in found.remove[1:])
    assert found.bytes > 0.01e9


def test_delete_frees_the_plan_and_keeps_the_other_model(store, deploy):
    found = owned(store, "qwen2:7b")
    planned = found.bytes
    seen, log = events()
    freed = collect.delete(deploy, store, found, log)
    assert freed == planned
    assert list(Store(store).manifests()) == ["qwen2:1.5b"]
    for p, _ in found.shared:
        assert p.exists()
    assert [e for e, _ in seen].count("removed") == len(found.remove)
    assert collect.read_journal(deploy) is None
    assert not (store / "manifests/registry.ollama.ai/library/qwen2/7b").exists()


def test_crash_half_way_then_finish_deletes_nothing_extra(store, deploy):
    found = owned(store, "qwen2:7b")
    before = {p.name for p in (store / "blobs").iterdir()}
    collect._journal(deploy, {"mode": "delete", "model": found.model, "root": str(store),
                              "files": collect.plan_entries(found), "started": 0})
    found.remove[0][0].unlink()                      # the crash came after the manifest went
    seen, log = events()
    collect.finish(deploy, log, store)
    after = {p.name for p in (store / "blobs").iterdir()}
    assert before - after == {p.name for p, _, _ in found.remove[1:]}
    assert Store(store).find("qwen2:1.5b") is not None


def test_finish_never_removes_a_blob_another_model_now_needs(store, deploy):
    found = owned(store, "qwen2:7b")
    entries = collect.plan_entries(found)
    collect._journal(deploy, {"mode": "delete", "model": found.model, "root": str(store), "files": entries, "started": 0})
    other = Store(store).find("qwen2:1.5b")
    data = json.loads(other.read_text())
    data["layers"].append({"mediaType": "x", "digest": entries[1]["digest"], "size": entries[1]["bytes"]})
    other.write_text(json.dumps(data))               # meanwhile another model came to use that blob
    collect.finish(deploy, lambda *a, **k: None, store)
    assert os.path.exists(entries[1]["path"])


def test_quarantine_then_restore_round_trip(store, deploy, tmp_path):
    found = owned(store, "qwen2:7b")
    sizes = {p.name: p.stat().st_size for p, _, _ in found.remove}
    batch = collect.quarantine(deploy, store, found, tmp_path / "volume" / "quarantine", lambda *a, **k: None)
    assert Store(store).find("qwen2:7b") is None and (batch / collect.BATCH_MANIFEST).exists()
    collect.restore(batch, lambda *a, **k: None, store)
    assert Store(store).find("qwen2:7b") is not None and not batch.exists()
    assert {p.name: p.stat().st_size for p, _, _ in owned(store, "qwen2:7b").remove} == sizes


def test_purge_deletes_only_old_batches(store, deploy, tmp_path):
    qdir = tmp_path / "volume" / "quarantine"
    batch = collect.quarantine(deploy, store, owned(store, "qwen2:7b"), qdir, lambda *a, **k: None)
    assert collect.purge(qdir, 3600, lambda *a, **k: None) == []
    assert collect.purge(qdir, 0, lambda *a, **k: None, dry_run=True) == [batch] and batch.exists()
    assert collect.purge(qdir, 0, lambda *a, **k: None) == [batch] and not batch.exists()


def test_symlink_in_blobs_pointing_outside_is_refused_and_never_followed(store, tmp_path):
    outside = tmp_path / "precious.bin"
    outside.write_bytes(b"keep me")
    found = owned(store, "qwen2:7b")
    victim = found.remove[1][0]
    victim.unlink()
    victim.symlink_to(outside)
    found = owned(store, "qwen2:7b")
    assert victim in found.links and victim not in [p for p, _, _ in found.remove]
    with pytest.raises(UnsafeStore, match="symlinks"):
        refuse_if_unsafe(found, force=False)
    refuse_if_unsafe(found, force=True)
    assert outside.read_bytes() == b"keep me"


def test_manifest_with_missing_blob_is_refused_and_reported(store):
    """Refused, naming the blob and the repair; --force removes what is left (as the runbook says)."""
    found = owned(store, "qwen2:7b")
    found.remove[-1][0].unlink()
    found = owned(store, "qwen2:7b")
    with pytest.raises(UnsafeStore) as err:
        refuse_if_unsafe(found, force=False, repair="docker exec xiaozhi-local-llm ollama pull qwen2:7b")
    assert found.missing[0] in err.value.message and "ollama pull qwen2:7b" in err.value.message
    refuse_if_unsafe(found, force=True)


def test_absent_model_owns_nothing(store):
    found = owned(store, "llama3:8b")
    assert found.manifest is None and found.remove == [] and found.bytes == 0


@pytest.mark.parametrize("path, reason", [
    ("/", "it is /"),
    (os.path.expanduser("~"), "home directory"),
    ("/proc", "mount-point root"),
])
def test_dangerous_store_paths_are_refused(path, reason):
    with pytest.raises(UnsafeStore, match=reason):
        check_path(path, path)


def test_store_outside_the_configured_one_is_refused(store, tmp_path):
    other = tmp_path / "elsewhere"
    build(other, size_gb=0.001)
    with pytest.raises(UnsafeStore, match="outside the configured store"):
        check_path(other, store)


def test_symlinked_store_path_is_refused(store, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(store)
    with pytest.raises(UnsafeStore, match="symlink"):
        check_path(link, link)


def test_not_an_ollama_store_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(UnsafeStore, match="not an Ollama store"):
        check_path(tmp_path / "x", tmp_path / "x")


TABLE = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:2CAA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:2CAA 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:D431 0100007F:2CAA 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0100007F:2CAA 0100007F:D432 06 00000000:00000000 00:00000000 00000000     0        0 4 1
"""


def test_parse_tcp_table_counts_established_server_side_only():
    assert drain.parse_tcp_table(TABLE, 11434) == 1


def test_drain_waits_then_reports(monkeypatch):
    left = iter([2, 1, 0])
    monkeypatch.setattr(drain, "established", lambda port, pid: next(left))
    lines = []
    clock = iter(range(100)).__next__
    assert drain.wait(11434, 5, 10, lines.append, clock=clock, sleep=lambda s: None) == (True, 0)
    assert len(lines) == 2 and "2 connection(s)" in lines[0]
    monkeypatch.setattr(drain, "established", lambda port, pid: 3)
    assert drain.wait(11434, 5, 2, lines.append, clock=iter(range(100)).__next__, sleep=lambda s: None) == (False, 3)


def test_finish_refuses_a_journal_for_another_store(store, deploy, tmp_path):
    found = owned(store, "qwen2:7b")
    other = tmp_path / "other" / "models"
    build(other, size_gb=0.001)
    collect._journal(deploy, {"mode": "delete", "model": found.model, "root": str(other),
                              "files": collect.plan_entries(found), "started": 0})
    with pytest.raises(UnsafeStore, match="outside the configured store"):
        collect.finish(deploy, lambda *a, **k: None, store)
    assert all(p.exists() for p, _, _ in found.remove)


def test_finish_refuses_a_journal_naming_paths_outside_its_root(store, deploy, tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep")
    collect._journal(deploy, {"mode": "delete", "model": "qwen2:7b", "root": str(store), "started": 0,
                              "files": [{"path": str(precious), "bytes": 4, "digest": "x"}]})
    with pytest.raises(UnsafeStore, match="outside the model store"):
        collect.finish(deploy, lambda *a, **k: None, store)
    assert precious.read_text() == "keep"


@pytest.mark.parametrize("answer, yes, deleted", [(None, False, False), (False, False, False), (True, False, True),
                                                  (None, True, True)])
def test_purge_lists_what_it_deletes_and_deletes_nothing_without_a_yes(store, deploy, tmp_path, answer, yes, deleted):
    from types import SimpleNamespace

    from core.errors import MigrationError
    from decommission import quarantine as q
    qdir = tmp_path / "volume" / "quarantine"
    batch = collect.quarantine(deploy, store, owned(store, "qwen2:7b"), qdir, lambda *a, **k: None)
    settings = SimpleNamespace(deploy_dir=deploy, decommission=SimpleNamespace(quarantine_dir=str(qdir)))
    said, asked = [], []
    confirm = None if answer is None else (lambda question: asked.append(question) or answer)
    if deleted:
        q.purge(settings, "0h", None, yes=yes, confirm=confirm, out=said.append)
    else:
        with pytest.raises(MigrationError, match="not confirmed: nothing was changed"):
            q.purge(settings, "0h", None, yes=yes, confirm=confirm, out=said.append)
    assert said[0].startswith(f"will delete: {batch} (qwen2:7b,")
    assert batch.exists() is not deleted and bool(asked) is (answer is not None and not yes)
