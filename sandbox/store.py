"""An Ollama model store on disk, in Ollama's own layout, and a builder for a test one.

Layout (as Ollama keeps it under ``$OLLAMA_MODELS``)::

    manifests/registry.ollama.ai/library/<name>/<tag>   JSON manifest
    blobs/sha256-<64 hex>                               content, shared between models

``python3 -m sandbox.store DIR [--size-gb 4.4]`` builds a store with ``qwen2:7b`` and
``qwen2:1.5b``, which share their template, license and params blobs. The weight blobs are
sparse, so the store reports realistic sizes without using the disk; their digests are the real
sha256 of their (all-zero) content, so that `decommission.restore --verify` can check them
(hashing 4.4 GB of zeros takes a few seconds, once, when the store is built).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

# The layout is the toolkit's core module, so that the emulator and decommissioning read one way.
from core.ollama_store import REGISTRY, blob_path, display_name, split_name  # noqa: F401

MEDIA = "application/vnd.ollama.image."
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


class Store:
    """Read and prune a store. Pure file operations, no HTTP."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def check(self) -> None:
        if not self.root.is_dir():
            raise SystemExit(f"model store {self.root} does not exist or is not a directory; "
                             f"build one with: python3 -m sandbox.store {self.root}")

    def manifest_path(self, model: str) -> Path:
        return self.root.joinpath("manifests", *split_name(model))

    def manifests(self) -> dict[str, Path]:
        """Every model name in the store -> its manifest file. Directory links are not followed
        (decommissioning relies on this); a linked manifest file is listed, as the link."""
        base = self.root / "manifests"
        found = {}
        for dirpath, _, filenames in os.walk(base, followlinks=False):
            for filename in filenames:
                path = Path(dirpath) / filename
                parts = path.relative_to(base).parts
                if len(parts) == 4:
                    found[display_name(*parts)] = path
        return dict(sorted(found.items()))

    @staticmethod
    def load(path: Path) -> dict:
        return json.loads(path.read_text())

    @staticmethod
    def digests(manifest: dict) -> list[str]:
        return [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]

    def size(self, manifest: dict) -> int:
        return manifest["config"].get("size", 0) + sum(l.get("size", 0) for l in manifest["layers"])

    def find(self, model: str) -> Path | None:
        path = self.manifest_path(model)
        return path if path.is_file() else None

    def config(self, manifest: dict) -> dict:
        try:
            return json.loads(blob_path(self.root, manifest["config"]["digest"]).read_text())
        except (OSError, ValueError):
            return {}

    def layer_text(self, manifest: dict, kind: str) -> str:
        for layer in manifest["layers"]:
            if layer["mediaType"] == MEDIA + kind:
                try:
                    return blob_path(self.root, layer["digest"]).read_text()
                except OSError:
                    return ""
        return ""

    def delete(self, model: str) -> list[Path]:
        """Remove the model's manifest, then the blobs no remaining manifest references,
        as Ollama does. Returns the files removed; raises KeyError when the model is absent."""
        path = self.find(model)
        if path is None:
            raise KeyError(model)
        mine = set(self.digests(self.load(path)))
        path.unlink()
        removed = [path]
        for parent in (path.parent, path.parent.parent):
            try:
                parent.rmdir()
            except OSError:
                break
        still = set()
        for other in self.manifests().values():
            still.update(self.digests(self.load(other)))
        for digest in sorted(mine - still):
            blob = blob_path(self.root, digest)
            if blob.is_file() and not blob.is_symlink():
                blob.unlink()
                removed.append(blob)
        return removed


# --- building a test store ---------------------------------------------------------------
def _write_blob(root: Path, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(root, digest)
    if not path.exists():
        path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _write_sparse_blob(root: Path, size: int) -> dict:
    digest, zeros, left = hashlib.sha256(), bytes(1 << 20), size
    while left:
        chunk = min(left, len(zeros))
        digest.update(zeros[:chunk] if chunk < len(zeros) else zeros)
        left -= chunk
    path = blob_path(root, "sha256:" + digest.hexdigest())
    with open(path, "ab") as fh:
        fh.truncate(size)
    return {"digest": "sha256:" + digest.hexdigest(), "size": size}


SHARED = {
    "template": "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
                "<|im_start|>user\n{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n",
    "license": "Apache License Version 2.0 (sandbox copy)\n",
    "params": json.dumps({"stop": ["<|im_start|>", "<|im_end|>"]}),
}

MODELS = {  # name -> (parameter size, share of --size-gb)
    "qwen2:7b": ("7.6B", 1.0),
    "qwen2:1.5b": ("1.5B", 0.21),
}


def build(root: Path, size_gb: float = 4.4) -> list[str]:
    (root / "blobs").mkdir(parents=True, exist_ok=True)
    shared = [{"mediaType": MEDIA + kind, **_write_blob(root, text.encode())}
              for kind, text in SHARED.items()]
    built = []
    for model, (params, share) in MODELS.items():
        registry, namespace, name, tag = split_name(model)
        config = {"model_format": "gguf", "model_family": "qwen2", "model_families": ["qwen2"],
                  "model_type": params, "file_type": "Q4_0", "architecture": "amd64", "os": "linux"}
        weights = _write_sparse_blob(root, int(size_gb * share * 1e9))
        manifest = {
            "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       **_write_blob(root, json.dumps(config, sort_keys=True).encode())},
            "layers": [{"mediaType": MEDIA + "model", **weights}, *shared],
        }
        path = root.joinpath("manifests", registry, namespace, name, tag)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest, indent=2))
        built.append(model)
    return built


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sandbox.store", description=__doc__.split("\n")[0])
    parser.add_argument("dir", help="store directory (created if missing)")
    parser.add_argument("--size-gb", type=float, default=4.4, help="size of qwen2:7b's weights, GB")
    parser.add_argument("--if-empty", action="store_true",
                        help="do nothing when the store already holds a model (keeps deletions)")
    args = parser.parse_args(argv)
    if args.size_gb <= 0:
        parser.error("--size-gb must be positive")
    root = Path(args.dir)
    if args.if_empty and root.is_dir() and Store(root).manifests():
        print(f"{root} already holds models; left as it is")
        return 0
    models = build(root, args.size_gb)
    store = Store(root)
    for model in models:
        manifest = store.load(store.find(model))
        print(f"{model}\t{store.size(manifest) / 1e9:.2f} GB\t{store.find(model)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
