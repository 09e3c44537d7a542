"""Self-contained bundles of models: the `model.tar.gz` SageMaker unpacks into /opt/ml/model.

Layout (inside the tarball, or in a folder once unpacked)::

    practica-bundle.json      manifest: format, every exported version, alias pointers
    blobs/<sha256>            each file once, named by its content hash

Reading a tarball never uses a member's name as a path: only the manifest and
`blobs/<64 hex>` members are accepted, each must be a regular file, and anything else
(links, devices, `..`, absolute paths, unknown names) refuses the whole bundle. An
unpacked folder (SageMaker unpacks the tarball itself, links and all) is held to the same
rules: its manifest and blobs must be regular files reached through no link, with no other
name for them (a hard link could be to a file outside). A bundle whose files add up to
more than MAX_BUNDLE_BYTES is refused from its headers, before any of it is read.
"""

import hashlib
import io
import json
import os
import re
import stat
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from pydantic import BaseModel

from model_registry.artifact_store import sha256_hex
from model_registry.errors import ArtifactIntegrityError, UnsafeBundleError
from model_registry.names import check_alias, check_model_name
from model_registry.registry import ModelRegistry
from model_registry.versions import ModelVersion

MANIFEST = "practica-bundle.json"
FORMAT = 1
_BLOB = re.compile(r"^blobs/([0-9a-f]{64})$")
MAX_BUNDLE_BYTES = 8 * 1024**3  # refuse decompression bombs
CHUNK_BYTES = 1024**2


class BundledModel(BaseModel):
    name: str
    aliases: dict[str, int]
    versions: list[ModelVersion]


class BundleManifest(BaseModel):
    format: int
    models: list[BundledModel]


def export_bundle(
    registry: ModelRegistry,
    out: Path,
    names: Iterable[str] | None = None,
    *,
    aliases: Iterable[str] | None = None,
) -> BundleManifest:
    """Write `out` (.tar.gz) with the chosen models; only aliased versions when `aliases` given."""
    chosen = list(names) if names else [m.name for m in registry.list_models()]
    only = set(aliases) if aliases else None
    bundled: list[BundledModel] = []
    for name in chosen:
        model = registry.get_model(name)
        keep = {v for a, v in model.aliases.items() if only is None or a in only}
        versions = [v for v in registry.list_versions(name) if only is None or v.version in keep]
        pointers = {a: v for a, v in model.aliases.items() if v in {x.version for x in versions}}
        bundled.append(BundledModel(name=name, aliases=pointers, versions=versions))
    manifest = BundleManifest(format=FORMAT, models=bundled)

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    written: set[str] = set()
    with tarfile.open(partial, "w:gz") as tar:
        _add_member(tar, MANIFEST, manifest.model_dump_json(indent=2).encode())
        for entry in bundled:
            for version in entry.versions:
                for ref in version.files.values():
                    if ref.sha256 not in written:
                        _add_member(tar, f"blobs/{ref.sha256}", registry.store.get(ref))
                        written.add(ref.sha256)
    partial.replace(out)
    return manifest


def import_bundle(registry: ModelRegistry, source: Path) -> BundleManifest:
    """Load a bundle (tarball or unpacked folder) into `registry`, keeping version numbers:
    all of it, or nothing.

    The bundle is checked whole before anything is written: its size (from the headers),
    every member, every blob's sha256 (hashed as it streams) and the manifest's references.
    Then the blobs are stored one at a time, so memory holds one file, never the bundle,
    and the versions and aliases are written in one transaction. A bundle refused, or a
    write that fails, leaves the registry's models and aliases as they were; blobs already
    stored stay, unreferenced (they are named by their content, so harmless).
    """
    if source.is_dir():
        unpacked_size(source)  # a tarball's members are counted as `check` reads them
    reader = _FolderBundle(source) if source.is_dir() else _TarballBundle(source)
    manifest = reader.check()
    needed = {ref.sha256 for m in manifest.models for v in m.versions for ref in v.files.values()}
    missing = needed - reader.blobs
    if missing:
        raise UnsafeBundleError(f"bundle blob {min(missing)} is missing")
    aliases = []
    for model in manifest.models:
        check_model_name(model.name)
        aliases += [(model.name, check_alias(a), number) for a, number in model.aliases.items()]
    for sha256, data in reader.contents(needed):
        if registry.store.put(data).sha256 != sha256:  # the file changed since it was checked
            raise ArtifactIntegrityError(f"bundle blob {sha256} failed its sha256 check")
    registry.restore([v for m in manifest.models for v in m.versions], aliases)
    return manifest


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _parse_manifest(data: bytes) -> BundleManifest:
    manifest = BundleManifest.model_validate(json.loads(data))
    if manifest.format != FORMAT:
        raise UnsafeBundleError(f"unsupported bundle format {manifest.format}; expected {FORMAT}")
    return manifest


def unpacked_size(source: Path) -> int:
    """The bytes a bundle's files hold once unpacked; UnsafeBundleError past MAX_BUNDLE_BYTES.

    A tarball's sizes come from its headers: a member claiming terabytes is refused when
    its header is read, before its data costs any time to decompress.
    """
    total = 0
    if source.is_dir():
        blobs = source / "blobs"
        entries = [] if blobs.is_symlink() or not blobs.is_dir() else list(blobs.iterdir())
        sizes: Iterable[int] = (entry.lstat().st_size for entry in entries)
    else:
        sizes = _member_sizes(source)
    for size in sizes:
        total += size
        _check_total(total)
    return total


def _check_total(total: int) -> None:
    if total > MAX_BUNDLE_BYTES:
        raise UnsafeBundleError(
            f"bundle is larger than the allowed {MAX_BUNDLE_BYTES / 2**30:.0f} GiB once unpacked"
        )


def _member_sizes(path: Path) -> Iterable[int]:
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            yield member.size


class _FolderBundle:
    """An unpacked bundle: `practica-bundle.json` and `blobs/<sha256>`, regular files only."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self.blobs: set[str] = set()

    def check(self) -> BundleManifest:
        if (self._folder / "blobs").is_symlink():
            raise UnsafeBundleError("the bundle's blobs folder is a link; links are refused")
        manifest = _parse_manifest(_regular_file(self._folder / MANIFEST, MANIFEST))
        for ref in {r for m in manifest.models for v in m.versions for r in v.files.values()}:
            self._verified(ref.sha256)
            self.blobs.add(ref.sha256)
        return manifest

    def contents(self, wanted: set[str]) -> Iterator[tuple[str, bytes]]:
        for sha256 in sorted(wanted):
            yield sha256, self._verified(sha256)

    def _verified(self, sha256: str) -> bytes:
        # sha256 was validated by FileRef's pattern: it names a file in blobs/, no more.
        data = _regular_file(self._folder / "blobs" / sha256, f"bundle blob {sha256}")
        if sha256_hex(data) != sha256:
            raise ArtifactIntegrityError(f"bundle blob {sha256} failed its sha256 check")
        return data


def _regular_file(path: Path, shown: str) -> bytes:
    """The content of `path`, a regular file with no other name, opened through no link."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # missing, or a link (O_NOFOLLOW)
        raise UnsafeBundleError(f"{shown} is missing or not a regular file") from None
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())  # of what was opened: no race with a swap
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeBundleError(f"{shown} is missing or not a regular file")
        if status.st_nlink > 1:
            raise UnsafeBundleError(f"{shown} is a hard link; links are refused")
        return file.read()


class _TarballBundle:
    """A `model.tar.gz`, read twice as a stream: once to check it, once to store its blobs."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.blobs: set[str] = set()

    def check(self) -> BundleManifest:
        manifest: bytes | None = None
        for name, member in self._members():
            if name == MANIFEST:
                manifest = member.read()
                continue
            digest = hashlib.sha256()
            while chunk := member.read(CHUNK_BYTES):
                digest.update(chunk)
            sha256 = name.removeprefix("blobs/")
            if digest.hexdigest() != sha256:
                raise ArtifactIntegrityError(f"bundle blob {sha256} failed its sha256 check")
            self.blobs.add(sha256)
        if manifest is None:
            raise UnsafeBundleError(f"not a Practica bundle: {MANIFEST} is missing")
        return _parse_manifest(manifest)

    def contents(self, wanted: set[str]) -> Iterator[tuple[str, bytes]]:
        for name, member in self._members():
            sha256 = name.removeprefix("blobs/")
            if sha256 in wanted:
                yield sha256, member.read()

    def _members(self) -> Iterator[tuple[str, IO[bytes]]]:
        """Each regular member's name and content, every member checked first."""
        total = 0
        with tarfile.open(self._path, "r:*") as tar:
            for member in tar:
                _check_member(member)
                if member.isdir():
                    continue
                total += member.size
                _check_total(total)  # from the header, before the data is inflated
                content = tar.extractfile(member)
                if content is None:
                    raise UnsafeBundleError(f"bundle member {member.name!r} has no content")
                yield _normalise(member.name), content


def _normalise(name: str) -> str:
    return name.removeprefix("./")


def _check_member(member: tarfile.TarInfo) -> None:
    raw = member.name
    if raw.startswith("/") or "\\" in raw or ".." in raw.split("/"):
        raise UnsafeBundleError(f"bundle member {raw!r} escapes the bundle folder")
    if member.issym() or member.islnk():
        raise UnsafeBundleError(f"bundle member {raw!r} is a link; links are refused")
    if member.isdev() or member.isfifo():
        raise UnsafeBundleError(f"bundle member {raw!r} is a device or fifo; refused")
    name = _normalise(raw).rstrip("/")
    if member.isdir():
        if name not in ("", ".", "blobs"):
            raise UnsafeBundleError(f"unexpected folder {raw!r} in bundle")
        return
    if not member.isfile() or not (name == MANIFEST or _BLOB.fullmatch(name)):
        raise UnsafeBundleError(f"unexpected member {raw!r} in bundle")
