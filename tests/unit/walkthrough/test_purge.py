"""--purge removes the model volume only when nothing but the decommissioned model (and Ollama's
own key files) lives in it; everything else is listed and keeps the volume."""
from types import SimpleNamespace

import pytest

from decommission import run
from decommission.store import owned, volume_content
from sandbox.store import build


@pytest.fixture
def volume(tmp_path):
    root = tmp_path / "_data"
    build(root / "models", size_gb=0.001)
    (root / "id_ed25519").write_text("key")
    return root


def content_after(volume, harm=None, model="qwen2:7b"):
    store = volume / "models"
    if harm:
        harm(volume, store)
    return volume_content(volume, store, owned(store, model))


def delete_small(volume, store):
    from sandbox.store import Store
    Store(store).delete("qwen2:1.5b")   # as Ollama does: the manifest, then the blobs nobody else names


CASES = [
    ("another model lives in it", None, {"others": ["qwen2:1.5b"]}, True),
    ("only this model and Ollama's keys", delete_small, {"others": []}, False),
    ("an unknown file", lambda v, s: (delete_small(v, s), (v / "notes.txt").write_text("mine")),
     {"unknown": ["notes.txt"]}, True),
    ("a blob nobody names", lambda v, s: (delete_small(v, s), (s / "blobs" / ("sha256-" + "0" * 64)).write_text("x")),
     {"orphans": ["sha256-" + "0" * 64]}, True),
    ("a link", lambda v, s: (delete_small(v, s), (v / "link").symlink_to("/etc")), {"unknown": ["link"]}, True),
]


@pytest.mark.parametrize("case, harm, expect, keeps", CASES, ids=[c for c, _, _, _ in CASES])
def test_what_keeps_the_volume(volume, case, harm, expect, keeps):
    content = content_after(volume, harm)
    assert content.keeps_the_volume is keeps
    for field, names in expect.items():
        got = getattr(content, field)
        assert sorted(got if isinstance(got, dict) else [p.name for p in got]) == names
    assert [p.name for p in content.ollama_own] == ["id_ed25519"]
    assert content.goes and all("qwen2/7b" in str(p) or "blobs" in str(p) for p in content.goes)


@pytest.mark.parametrize("purge, whole, keeps, removed", [
    (False, False, False, False), (True, False, False, True), (True, False, True, False), (True, True, True, True),
])
def test_volume_fate(purge, whole, keeps, removed):
    facts = SimpleNamespace(volume=object(), content=SimpleNamespace(keeps_the_volume=keeps))
    remove, why = run.volume_fate(facts, purge, whole)
    assert remove is removed and (why.startswith("KEPT") == (purge and keeps and not whole))
