"""A model is relied on only when whole: its manifest, and every blob it names with the size the
manifest gives (and, with verify, the content its digest says)."""
import json

import pytest

from sandbox.store import build
from core import ollama_store

BIG = "manifests/registry.ollama.ai/library/qwen2/7b"


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "models"
    build(root, size_gb=0.001)
    return root


def blobs(store):
    return [ollama_store.blob_path(store, d) for d in ollama_store.digests(store / BIG)]


def template_blob(store):
    layers = json.loads((store / BIG).read_text())["layers"]
    digest = next(l["digest"] for l in layers if l["mediaType"].endswith("template"))
    return ollama_store.blob_path(store, digest)


DAMAGE = [
    ("whole", lambda s: None, []),
    ("a blob removed", lambda s: template_blob(s).unlink(), ["missing blob sha256-"]),
    ("a blob truncated", lambda s: template_blob(s).write_bytes(b"{{"), ["bytes, the manifest says"]),
    ("a blob replaced by a link", lambda s: (template_blob(s).unlink(), template_blob(s).symlink_to("/etc/hosts")),
     ["not a regular file"]),
    ("no manifest", lambda s: (s / BIG).unlink(), ["no manifest for qwen2:7b"]),
    ("a manifest that is not JSON", lambda s: (s / BIG).write_text("{"), ["unreadable manifest"]),
]


@pytest.mark.parametrize("case, harm, words", DAMAGE, ids=[c for c, _, _ in DAMAGE])
def test_damage_names_what_is_wrong(store, case, harm, words):
    harm(store)
    problems = ollama_store.damage(store, "qwen2:7b")
    assert len(problems) == len(words) and all(w in p for w, p in zip(words, problems)), problems


def test_verify_hashes_the_content(store):
    blob = template_blob(store)
    original = blob.read_bytes()
    blob.write_bytes(bytes([original[0] ^ 1]) + original[1:])   # same size, other content
    assert ollama_store.damage(store, "qwen2:7b") == []
    assert ["does not hash to its digest" in p for p in ollama_store.damage(store, "qwen2:7b", verify=True)] == [True]


@pytest.mark.parametrize("exists, words", [
    (True, "docker start xiaozhi-local-llm && docker exec xiaozhi-local-llm ollama pull qwen2:7b"),
    (False, "docker run -d --name xiaozhi-pull -v xiaozhi_ollama:/root/.ollama ollama/ollama:latest && "
            "docker exec xiaozhi-pull ollama pull qwen2:7b && docker rm -f xiaozhi-pull"),
])
def test_the_repair_command_works_whether_or_not_the_container_is_there(exists, words):
    import yaml
    from decommission.quarantine import repair_hint
    from core import config
    from ...conftest import ROOT
    settings = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={})
    assert words in repair_hint(settings, container_exists=exists)
