import json

import pytest

from sandbox.store import Store, blob_path, build, split_name


@pytest.mark.parametrize("name, expected", [
    ("qwen2:7b", ("registry.ollama.ai", "library", "qwen2", "7b")),
    ("qwen2", ("registry.ollama.ai", "library", "qwen2", "latest")),
    ("me/mine:v1", ("registry.ollama.ai", "me", "mine", "v1")),
    ("registry.ollama.ai/library/qwen2:7b", ("registry.ollama.ai", "library", "qwen2", "7b")),
    ("host:5000/ns/m", ("host:5000", "ns", "m", "latest")),
])
def test_split_name(name, expected):
    assert split_name(name) == expected


def test_build_makes_realistic_sparse_sizes(tmp_path):
    build(tmp_path, size_gb=4.4)
    store = Store(tmp_path)
    assert sorted(store.manifests()) == ["qwen2:1.5b", "qwen2:7b"]
    manifest = store.load(store.find("qwen2:7b"))
    assert 4.4e9 <= store.size(manifest) < 4.5e9
    weights = blob_path(tmp_path, manifest["layers"][0]["digest"])
    assert weights.stat().st_size == int(4.4e9)
    assert weights.stat().st_blocks * 512 < 1e6, "weights must be sparse"


def test_models_share_blobs_and_delete_keeps_shared(tmp_path):
    build(tmp_path, size_gb=0.01)
    store = Store(tmp_path)
    big = set(store.digests(store.load(store.find("qwen2:7b"))))
    small = set(store.digests(store.load(store.find("qwen2:1.5b"))))
    shared = big & small
    assert len(shared) >= 1
    removed = store.delete("qwen2:7b")
    assert store.find("qwen2:7b") is None
    for digest in shared:
        assert blob_path(tmp_path, digest).is_file(), "a shared blob was deleted"
    for digest in big - small:
        assert not blob_path(tmp_path, digest).exists()
    assert len(removed) == 1 + len(big - small)
    assert list(store.manifests()) == ["qwen2:1.5b"]


def test_delete_absent_model_raises_and_changes_nothing(tmp_path):
    build(tmp_path, size_gb=0.01)
    before = sorted(p.name for p in (tmp_path / "blobs").iterdir())
    with pytest.raises(KeyError):
        Store(tmp_path).delete("llama3:8b")
    assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == before


def test_build_is_idempotent(tmp_path):
    build(tmp_path, size_gb=0.01)
    first = {p.name: p.stat().st_size for p in (tmp_path / "blobs").iterdir()}
    build(tmp_path, size_gb=0.01)
    assert {p.name: p.stat().st_size for p in (tmp_path / "blobs").iterdir()} == first
    manifest = json.loads(Store(tmp_path).find("qwen2:7b").read_text())
    assert manifest["schemaVersion"] == 2 and manifest["layers"][0]["mediaType"].endswith(".model")


def test_missing_store_stops_with_a_clear_message(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        Store(tmp_path / "nope").check()


def test_emulator_with_a_missing_store_exits_with_a_clear_message(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    done = subprocess.run([sys.executable, "-m", "sandbox.ollama", "--port", "0", "--models", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=20, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2 and "does not exist" in done.stderr and "sandbox.store" in done.stderr
