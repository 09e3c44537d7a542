"""Self-contained bundles of models: the `model.tar.gz` SageMaker unpacks into /opt/ml/model.

Layout (inside the tarball, or in a folder once unpacked)::

    practica-bundle.json      manifest: format, every exported version, alias pointers
    blobs/<sha256>            each file once, named by its content hash

Reading a tarball never uses a member's name as a path: only the manifest and
`blobs/<64 hex>` members are accepted, each must be a regular file, and anything else
(links, devices, `..`, absolute paths, unknown names) refuses the whole bundle.
"""

import io
import json
import re
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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
    """Load a bundle (tarball or unpacked folder) into `registry`, keeping version numbers."""
    manifest, blobs = _read_folder(source) if source.is_dir() else _read_tarball(source)
    for model in manifest.models:
        check_model_name(model.name)
        for version in model.versions:
            files: dict[str, bytes] = {}
            for file_name, ref in version.files.items():
                data = blobs(ref.sha256)
                if sha256_hex(data) != ref.sha256:
                    raise ArtifactIntegrityError(
                        f"bundle blob {ref.sha256} failed its sha256 check"
                    )
                files[file_name] = data
            registry.restore_version(version, files)
        for alias, number in model.aliases.items():
            registry.set_alias(model.name, check_alias(alias), number)
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


def _read_folder(folder: Path) -> tuple[BundleManifest, Any]:
    manifest = _parse_manifest((folder / MANIFEST).read_bytes())

    def blob(sha256: str) -> bytes:
        path = folder / "blobs" / sha256  # sha256 was validated by FileRef's pattern
        if path.is_symlink() or not path.is_file():
            raise UnsafeBundleError(f"bundle blob {sha256} is missing or not a regular file")
        return path.read_bytes()

    return manifest, blob


def _read_tarball(path: Path) -> tuple[BundleManifest, Any]:
    manifest_bytes: bytes | None = None
    blobs: dict[str, bytes] = {}
    total = 0
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            _check_member(member)
            if member.isdir():
                continue
            total += member.size
            if total > MAX_BUNDLE_BYTES:
                raise UnsafeBundleError("bundle is larger than the allowed 8 GiB once unpacked")
            extracted = tar.extractfile(member)
            if extracted is None:
                raise UnsafeBundleError(f"bundle member {member.name!r} has no content")
            data = extracted.read()
            name = _normalise(member.name)
            if name == MANIFEST:
                manifest_bytes = data
            else:
                blobs[name.removeprefix("blobs/")] = data
    if manifest_bytes is None:
        raise UnsafeBundleError(f"not a Practica bundle: {MANIFEST} is missing")

    def blob(sha256: str) -> bytes:
        if sha256 not in blobs:
            raise UnsafeBundleError(f"bundle blob {sha256} is missing")
        return blobs[sha256]

    return _parse_manifest(manifest_bytes), blob


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
