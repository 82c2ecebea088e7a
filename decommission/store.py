"""The model store seen from the host, the careful way: which files a model owns (its manifest
and the blobs no other manifest references) and checks that refuse dangerous paths.

Trusts nothing read from disk: digests are checked before they become paths (toolkit's
``ollama_store``), every path to remove must lie in the store's ``blobs/`` or ``manifests/``, and
a symlink is never resolved to find what to delete. Manifests reached through a linked directory
still count as references, so a model Ollama serves through a link keeps its blobs."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from core import ollama_store
from core.errors import UnsafeStore


@dataclass
class Owned:
    """What removing one model would remove and keep."""
    model: str
    manifest: Path | None
    remove: list[tuple[Path, int, str]] = field(default_factory=list)   # path, bytes, digest
    shared: list[tuple[Path, str]] = field(default_factory=list)        # kept: other models use them
    missing: list[str] = field(default_factory=list)                    # named by the manifest, absent
    links: list[Path] = field(default_factory=list)                     # symlinks met: never followed

    @property
    def bytes(self) -> int:
        return sum(size for _, size, _ in self.remove)


def _home_dirs() -> set[str]:
    homes = {os.path.expanduser("~"), "/root"}
    try:
        homes.update(str(p) for p in Path("/home").iterdir())
    except OSError:
        pass
    return {os.path.realpath(h) for h in homes}


def check_path(path: Path, configured: Path) -> Path:
    """Refuse a store path that is /, a home directory, a mount-point root, outside the configured
    store, or not an Ollama store. Returns the real path."""
    raw = str(path)
    if os.path.islink(raw):
        raise UnsafeStore("the store path is a symlink; refusing to follow it", where=raw,
                          hint="point migrate.local_llm at the real directory")
    real = os.path.realpath(raw)
    reasons = []
    if real == "/":
        reasons.append("it is /")
    if real in _home_dirs():
        reasons.append("it is a home directory")
    if real != "/" and os.path.ismount(real):
        reasons.append("it is a mount-point root")
    if reasons:
        raise UnsafeStore("refusing to remove anything from this store path: " + ", ".join(reasons), where=raw,
                          hint="the store must be Ollama's own models directory (e.g. <volume>/models)")
    conf = os.path.realpath(str(configured))
    if real != conf and not real.startswith(conf + os.sep):
        raise UnsafeStore(f"{real} is outside the configured store {conf}", where=raw,
                          hint="check migrate.local_llm.store_path / store_host_path")
    for part in ("manifests", "blobs"):
        sub = os.path.join(real, part)
        if os.path.islink(sub):
            raise UnsafeStore(f"{part}/ is a symlink; refusing to follow it", where=sub,
                              hint="point migrate.local_llm at the store that holds the real directories")
        if not os.path.isdir(sub):
            raise UnsafeStore("not an Ollama store (no manifests/ and blobs/)", where=real,
                              hint="check migrate.local_llm.store_path / store_host_path")
    return Path(real)


def manifest_digests(path: Path) -> list[str]:
    """The blobs a manifest names, each a checked sha256 digest; a malformed manifest stops
    everything before any plan or journal exists."""
    try:
        return ollama_store.digests(path)
    except ollama_store.StoreFormatError as exc:
        raise UnsafeStore(exc.what, where=str(exc.path),
                          hint="inspect the file by hand (it is not what Ollama writes); nothing was removed") from None


def owned(root: Path, model: str) -> Owned:
    """The model's manifest and the blobs only it references (pure reading of the store)."""
    manifest = ollama_store.manifest_path(root, model)
    result = Owned(model, None)
    if not ollama_store.inside(manifest, root / "manifests"):
        raise UnsafeStore(f"the model name {model!r} leads outside the store's manifests/", where=str(manifest))
    scan = ollama_store.scan(root)
    result.links.extend(scan.links)
    if not manifest.exists() and not manifest.is_symlink():
        return result
    if manifest.is_symlink() or manifest not in scan.manifests.values():
        if manifest not in result.links:
            result.links.append(manifest)
        return result
    result.manifest = manifest
    mine = manifest_digests(manifest)
    others = set()
    for path in [*scan.manifests.values(), *scan.linked]:
        if path != manifest:
            others.update(manifest_digests(path))
    result.remove.append((manifest, manifest.lstat().st_size, "sha256:" + hashlib.sha256(manifest.read_bytes()).hexdigest()))
    for digest in dict.fromkeys(mine):
        blob = ollama_store.blob_path(root, digest)
        if blob.is_symlink():
            result.links.append(blob)
            continue
        if not blob.exists():
            result.missing.append(digest)
            continue
        if digest in others:
            result.shared.append((blob, digest))
        else:
            result.remove.append((blob, blob.lstat().st_size, digest))
    return result


def refuse_outside(root: Path, paths) -> None:
    """Every path must be a file of the store's blobs/ or manifests/: checked before any journal."""
    areas = (Path(root) / "blobs", Path(root) / "manifests")
    outside = [str(p) for p in paths if not any(ollama_store.inside(p, area) for area in areas)]
    if outside:
        raise UnsafeStore("the plan names paths outside the store's blobs/ and manifests/", where=str(root),
                          detail="\n".join(outside[:10]), hint="inspect the store by hand; nothing was removed")


def refuse_if_unsafe(found: Owned, force: bool, repair: str = "") -> None:
    """Missing blobs: the model is damaged; with --force what is there is removed all the same
    (the missing ones are gone already, shared ones stay as always). Links: never followed."""
    if found.missing and not force:
        raise UnsafeStore(f"the manifest of {found.model} names {len(found.missing)} missing blob(s)",
                          where=str(found.manifest), detail="\n".join(found.missing),
                          hint=(f"the model is damaged: repair it first ({repair}), or pass --force to remove "
                                "what is left of it (shared blobs stay)" if repair else
                                "the model is damaged: repair it first, or pass --force to remove what is left"))
    if found.links and not force:
        raise UnsafeStore("the store holds symlinks; they are never followed", where=str(found.links[0].parent),
                          detail="\n".join(f"{p} -> {_target(p)}" for p in found.links),
                          hint="remove or replace them by hand, or pass --force to leave them untouched "
                               "(the manifests they lead to still keep their blobs)")


def _target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def can_move(src_dir: Path, dst_dir: Path) -> bool:
    """Whether rename(2) works from one directory to the other. Two mounts of one device
    (bind mounts) share st_dev yet refuse to rename across: so try it, with an empty probe."""
    probe = Path(src_dir) / f".xiaozhi-move-probe-{os.getpid()}"
    target = Path(dst_dir) / probe.name
    try:
        probe.touch()
        os.rename(probe, target)
        os.unlink(target)
        return True
    except OSError:
        return False
    finally:
        for p in (probe, target):
            if p.exists():
                p.unlink()


OLLAMA_OWN = ("id_ed25519", "id_ed25519.pub", "history")  # Ollama's key pair and prompt history


@dataclass
class VolumeContent:
    """Everything in the model volume, sorted by what removing the volume would mean."""
    goes: list[Path] = field(default_factory=list)                       # the decommissioned model's own
    others: dict[str, list[Path]] = field(default_factory=dict)          # other models: manifest + blobs
    orphans: list[Path] = field(default_factory=list)                    # blobs no manifest names
    ollama_own: list[Path] = field(default_factory=list)                 # Ollama's key pair, history
    unknown: list[Path] = field(default_factory=list)                    # anything else, links included

    @property
    def keeps_the_volume(self) -> bool:
        return bool(self.others or self.orphans or self.unknown)


def volume_content(volume_root: Path, store: Path | None, found: Owned | None) -> VolumeContent:
    """Walk the volume (links are listed, never followed) and sort every file."""
    content = VolumeContent(goes=[p for p, _, _ in found.remove] if found else [])
    goes = set(content.goes)
    named: dict[str, str] = {}   # blob file name -> the first other model naming it
    scan = ollama_store.scan(store) if store is not None and store.is_dir() else ollama_store.Scan()
    for name, manifest in scan.manifests.items():
        if manifest in goes:
            continue
        try:
            blobs = [ollama_store.blob_path(store, d) for d in ollama_store.digests(manifest)]
        except ollama_store.StoreFormatError:
            blobs = []
        content.others[name] = [manifest] + [b for b in blobs if b.exists()]
        for blob in blobs:
            named.setdefault(blob.name, name)
    for dirpath, dirnames, filenames in os.walk(volume_root, followlinks=False):
        for entry in sorted(filenames) + [d for d in sorted(dirnames) if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath) / entry
            if path in goes or any(path in files for files in content.others.values()):
                continue
            if path.is_symlink():
                content.unknown.append(path)
            elif Path(dirpath) == Path(volume_root) and entry in OLLAMA_OWN:
                content.ollama_own.append(path)
            elif store is not None and path.parent == store / "blobs" and path.name.startswith("sha256-"):
                content.orphans.append(path)
            else:
                content.unknown.append(path)
    return content
