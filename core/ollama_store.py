"""The Ollama model store's layout, read without trusting it (pure, standard library only).

Layout (``$OLLAMA_MODELS``)::

    manifests/<registry>/<namespace>/<name>/<tag>   JSON manifest
    blobs/sha256-<64 hex>                           content, shared between models

A manifest is a file on disk, so everything in it is checked before it becomes a path: a digest
must be ``sha256:`` and 64 lowercase hex digits (``sha256:x/../sha256-<other>`` would otherwise
name another model's blob). Directory links under ``manifests/`` are reported, not walked as the
store's own; their manifests are still read, because Ollama serves models through them and the
blobs they name must not be removed."""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

REGISTRY = "registry.ollama.ai"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class StoreFormatError(ValueError):
    """A store file that is not what Ollama writes; ``path`` names it."""

    def __init__(self, path: Path, what: str):
        self.path, self.what = Path(path), what
        super().__init__(f"{path}: {what}")


def split_name(model: str) -> tuple[str, str, str, str]:
    """'qwen2:7b' -> (registry, namespace, name, tag) with Ollama's defaults."""
    name, tag = model, "latest"
    if ":" in model.rsplit("/", 1)[-1]:
        name, tag = model.rsplit(":", 1)
    parts = name.split("/")
    if len(parts) == 1:
        parts = [REGISTRY, "library", parts[0]]
    elif len(parts) == 2:
        parts = [REGISTRY, *parts]
    return parts[0], parts[1], parts[2], tag or "latest"


def display_name(registry: str, namespace: str, name: str, tag: str) -> str:
    if registry == REGISTRY and namespace == "library":
        return f"{name}:{tag}"
    return f"{registry}/{namespace}/{name}:{tag}"


def manifest_path(root: Path, model: str) -> Path:
    return Path(root).joinpath("manifests", *split_name(model))


def blob_path(root: Path, digest: str) -> Path:
    if not DIGEST.match(digest):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return Path(root) / "blobs" / digest.replace(":", "-")


def digests(path: Path) -> list[str]:
    """The blobs a manifest names (config first), each checked; StoreFormatError otherwise."""
    return [digest for digest, _ in named(path)]


def named(path: Path) -> list[tuple[str, int | None]]:
    """(digest, size the manifest gives) of each blob a manifest names, config first."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StoreFormatError(path, f"unreadable manifest ({exc})") from None
    try:
        entries = [data["config"]] + list(data["layers"])
        found = [(entry["digest"], entry.get("size")) for entry in entries]
    except (KeyError, TypeError, IndexError, AttributeError):
        raise StoreFormatError(path, "not an Ollama manifest (no config.digest and layers[].digest)") from None
    for digest, size in found:
        if not isinstance(digest, str) or not DIGEST.match(digest):
            raise StoreFormatError(path, f"names a digest that is not sha256:<64 hex>: {str(digest)[:80]!r}")
    return [(digest, size if isinstance(size, int) and not isinstance(size, bool) else None) for digest, size in found]


def damage(root: Path, model: str, verify: bool = False) -> list[str]:
    """What is wrong with a model in the store, in words; [] when it is whole: its manifest is
    there and every blob it names is a regular file of the size it gives (and, with ``verify``,
    whose content hashes to its digest)."""
    manifest = manifest_path(root, model)
    if not manifest.is_file() or manifest.is_symlink():
        return [f"no manifest for {model} at {manifest}"]
    try:
        blobs = named(manifest)
    except StoreFormatError as exc:
        return [str(exc)]
    problems = []
    for digest, size in dict.fromkeys(blobs):
        path = blob_path(root, digest)
        try:
            info = path.lstat()
        except FileNotFoundError:
            problems.append(f"missing blob {path.name} (named by the manifest, {size} bytes)")
            continue
        if not stat.S_ISREG(info.st_mode):
            problems.append(f"blob {path.name} is not a regular file")
        elif size is not None and info.st_size != size:
            problems.append(f"blob {path.name} is {info.st_size} bytes, the manifest says {size}")
        elif verify and _sha256(path) != digest.split(":", 1)[1]:
            problems.append(f"blob {path.name}: its content does not hash to its digest")
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Scan:
    manifests: dict[str, Path] = field(default_factory=dict)   # the store's own: name -> file
    linked: list[Path] = field(default_factory=list)            # manifest files reached through a link
    links: list[Path] = field(default_factory=list)             # every symlink met under manifests/


def scan(root: Path, max_depth: int = 8) -> Scan:
    """Every manifest of the store. A link (file or directory) is recorded in ``links``; what it
    leads to is listed in ``linked``, never in ``manifests``. Loops and depth are bounded."""
    base = Path(root) / "manifests"
    result, seen = Scan(), set()

    def walk(directory: Path, parts: tuple, through_link: bool) -> None:
        try:
            info = directory.stat()
        except OSError:
            return
        if (info.st_dev, info.st_ino) in seen or len(parts) > max_depth:
            return
        seen.add((info.st_dev, info.st_ino))
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            path, is_link = Path(entry.path), entry.is_symlink()
            if is_link:
                result.links.append(path)
            if entry.is_dir(follow_symlinks=True):
                walk(path, parts + (entry.name,), through_link or is_link)
            elif entry.is_file(follow_symlinks=True):
                if through_link or is_link:
                    result.linked.append(path)
                elif len(parts) == 3:
                    result.manifests[display_name(*parts, entry.name)] = path
    walk(base, (), False)
    result.manifests = dict(sorted(result.manifests.items()))
    return result


def inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` lies under ``directory``, lexically and once its parent is resolved
    (a ``..`` or a linked parent cannot lead out)."""
    path, directory = Path(path), Path(directory)
    if ".." in path.parts:
        return False
    real_parent = os.path.realpath(path.parent)
    real_dir = os.path.realpath(directory)
    return real_parent == real_dir or real_parent.startswith(real_dir + os.sep)
