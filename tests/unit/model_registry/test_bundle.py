"""Bundles: a round trip keeps numbers and aliases; hostile bundles are refused whole."""

import gzip
import io
import os
import tarfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from model_registry import (
    ArtifactIntegrityError,
    ModelRegistry,
    UnsafeBundleError,
    VersionConflictError,
    export_bundle,
    import_bundle,
)
from model_registry.bundle import MANIFEST


@pytest.fixture
def bundle(sqlite_registry: ModelRegistry, tmp_path: Path) -> Path:
    for payload in (b"v1", b"v2", b"v3"):
        sqlite_registry.publish("demo-model", {"model.json": payload}, flavor="json")
    sqlite_registry.set_alias("demo-model", "production", 2)
    out = tmp_path / "model.tar.gz"
    export_bundle(sqlite_registry, out)
    return out


def _fresh_registry(tmp_path: Path) -> ModelRegistry:
    from model_registry import RegistrySettings

    return ModelRegistry.from_settings(RegistrySettings(home=tmp_path / "fresh"))


def test_round_trip_keeps_versions_aliases_and_bytes(bundle: Path, tmp_path: Path) -> None:
    target = _fresh_registry(tmp_path)
    import_bundle(target, bundle)
    assert target.get_model("demo-model").versions == (1, 2, 3)
    assert target.resolve("demo-model").version == 2
    assert target.read_files(target.get_version("demo-model", 3)) == {"model.json": b"v3"}
    import_bundle(target, bundle)  # idempotent
    assert target.get_model("demo-model").versions == (1, 2, 3)
    target.close()


def test_alias_filter_exports_only_aliased_versions(
    sqlite_registry: ModelRegistry, bundle: Path, tmp_path: Path
) -> None:
    out = tmp_path / "production.tar.gz"
    manifest = export_bundle(sqlite_registry, out, aliases=["production"])
    assert [v.version for v in manifest.models[0].versions] == [2]
    target = _fresh_registry(tmp_path)
    import_bundle(target, out)
    assert target.resolve("demo-model").version == 2
    target.close()


def test_unpacked_folder_imports_like_the_tarball(bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "opt-ml-model"
    with tarfile.open(bundle) as tar:
        tar.extractall(folder, filter="data")
    target = _fresh_registry(tmp_path)
    import_bundle(target, folder)
    assert target.resolve("demo-model").version == 2
    target.close()


def _hostile(tmp_path: Path, bundle: Path, add: Callable[[tarfile.TarFile], None]) -> Path:
    """The valid bundle plus one hostile member."""
    out = tmp_path / "hostile.tar.gz"
    with tarfile.open(bundle) as source, tarfile.open(out, "w:gz") as tar:
        for member in source:
            tar.addfile(member, source.extractfile(member))
        add(tar)
    return out


def _file(name: str, data: bytes = b"x") -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    return add


def _special(name: str, kind: bytes, linkname: str = "") -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        tar.addfile(info)

    return add


HOSTILE = {
    "parent traversal": _file("../escape.txt"),
    "nested traversal": _file("blobs/../../escape.txt"),
    "absolute path": _file("/tmp/practica-escape.txt"),
    "symlink": _special("blobs/" + "a" * 64, tarfile.SYMTYPE, "/etc/passwd"),
    "hard link": _special("blobs/" + "b" * 64, tarfile.LNKTYPE, MANIFEST),
    "character device": _special("blobs/" + "c" * 64, tarfile.CHRTYPE),
    "fifo": _special("blobs/" + "d" * 64, tarfile.FIFOTYPE),
    "unknown member": _file("run-me.sh", b"#!/bin/sh\n"),
    "unexpected folder": _special("scripts/", tarfile.DIRTYPE),
}


@pytest.mark.parametrize("attack", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_tarballs_are_refused(
    bundle: Path, tmp_path: Path, attack: Callable[[tarfile.TarFile], None]
) -> None:
    target = _fresh_registry(tmp_path)
    with pytest.raises(UnsafeBundleError):
        import_bundle(target, _hostile(tmp_path, bundle, attack))
    assert target.list_models() == []  # refused whole: nothing imported
    assert not (tmp_path.parent / "escape.txt").exists()
    target.close()


def test_tampered_blob_in_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "tampered.tar.gz"
    with tarfile.open(bundle) as source, tarfile.open(out, "w:gz") as tar:
        for member in source:
            data = source.extractfile(member)
            if member.name.startswith("blobs/"):
                content = b"evil" + data.read()[4:] if data else b""
                member.size = len(content)
                tar.addfile(member, io.BytesIO(content))
            else:
                tar.addfile(member, data)
    target = _fresh_registry(tmp_path)
    with pytest.raises(ArtifactIntegrityError):
        import_bundle(target, out)
    target.close()


def test_missing_manifest_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "empty.tar.gz"
    with tarfile.open(out, "w:gz"):
        pass
    target = _fresh_registry(tmp_path)
    with pytest.raises(UnsafeBundleError, match="missing"):
        import_bundle(target, out)
    target.close()


def test_a_size_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    """A member claiming 16 GiB is refused when its header is read: nothing is inflated."""
    claim = tarfile.TarInfo("blobs/" + "0" * 64)
    claim.size = 16 * 2**30
    out = tmp_path / "bomb.tar.gz"
    with gzip.open(out, "wb") as tarball:
        tarball.write(claim.tobuf(format=tarfile.PAX_FORMAT) + bytes(2**20))
    target = _fresh_registry(tmp_path)
    with pytest.raises(UnsafeBundleError, match="larger than the allowed 8 GiB"):
        import_bundle(target, out)
    assert target.list_models() == []
    target.close()


def _unpack(bundle: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "unpacked"
    with tarfile.open(bundle) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _first_blob(folder: Path) -> Path:
    return sorted((folder / "blobs").iterdir())[0]


def _symlinked_blob(folder: Path) -> None:
    blob = _first_blob(folder)
    moved = blob.with_name("elsewhere")
    blob.rename(moved)
    blob.symlink_to(moved)


def _symlinked_manifest(folder: Path) -> None:
    manifest = folder / MANIFEST
    moved = folder.parent / "manifest-elsewhere.json"
    manifest.rename(moved)
    manifest.symlink_to(moved)


def _symlinked_blobs_folder(folder: Path) -> None:
    moved = folder.parent / "blobs-elsewhere"
    (folder / "blobs").rename(moved)
    (folder / "blobs").symlink_to(moved)


def _hard_linked_blob(folder: Path) -> None:
    os.link(_first_blob(folder), folder.parent / "second-name")


def _fifo_blob(folder: Path) -> None:
    blob = _first_blob(folder)
    blob.unlink()
    os.mkfifo(blob)


FOLDER_ATTACKS = {
    "symlinked blob": _symlinked_blob,
    "symlinked manifest": _symlinked_manifest,
    "symlinked blobs folder": _symlinked_blobs_folder,
    "hard-linked blob": _hard_linked_blob,
    "fifo blob": _fifo_blob,
}


@pytest.mark.parametrize("attack", FOLDER_ATTACKS.values(), ids=FOLDER_ATTACKS.keys())
def test_unpacked_folders_are_held_to_the_tarballs_rules(
    bundle: Path, tmp_path: Path, attack: Callable[[Path], None]
) -> None:
    """SageMaker unpacks the tarball itself, links and all: the folder is checked again."""
    folder = _unpack(bundle, tmp_path)
    attack(folder)
    target = _fresh_registry(tmp_path)
    with pytest.raises(UnsafeBundleError, match=r"link|not a regular file"):
        import_bundle(target, folder)
    assert target.list_models() == []
    target.close()


def test_an_unpacked_folder_too_large_is_refused(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _unpack(bundle, tmp_path)
    total = sum(blob.stat().st_size for blob in (folder / "blobs").iterdir())
    monkeypatch.setattr("model_registry.bundle.MAX_BUNDLE_BYTES", total - 1)
    target = _fresh_registry(tmp_path)
    with pytest.raises(UnsafeBundleError, match="larger than the allowed"):
        import_bundle(target, folder)
    target.close()


def test_an_import_failing_part_way_changes_nothing(
    sqlite_registry: ModelRegistry, bundle: Path, tmp_path: Path
) -> None:
    """The second model's version conflicts with one already there: the first model's
    versions and its alias move must not be kept either."""
    sqlite_registry.publish("other-model", {"model.json": b"o1"}, flavor="json")
    both = tmp_path / "both.tar.gz"
    export_bundle(sqlite_registry, both, ["demo-model", "other-model"])
    target = _fresh_registry(tmp_path)
    target.publish("other-model", {"model.json": b"different"}, flavor="json")
    with pytest.raises(VersionConflictError):
        import_bundle(target, both)
    assert [m.name for m in target.list_models()] == ["other-model"]
    assert target.read_files(target.get_version("other-model", 1)) == {"model.json": b"different"}
    target.close()


def test_an_import_holds_one_file_in_memory_not_the_bundle(
    sqlite_registry: ModelRegistry, tmp_path: Path
) -> None:
    blob_bytes = 4 * 2**20
    for _ in range(8):  # 32 MiB of files that do not compress
        sqlite_registry.publish("demo-model", {"model.json": os.urandom(blob_bytes)}, flavor="json")
    out = tmp_path / "large.tar.gz"
    export_bundle(sqlite_registry, out)
    target = _fresh_registry(tmp_path)
    tracemalloc.start()
    try:
        import_bundle(target, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert target.get_model("demo-model").versions == tuple(range(1, 9))
    assert peak < 4 * blob_bytes, f"peak {peak / 2**20:.0f} MiB for a 32 MiB bundle"
    target.close()
