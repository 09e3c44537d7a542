"""The content-addressed store: dedup, verification on read, refusal of bad digests."""

from pathlib import Path

import pytest

from model_registry import ArtifactIntegrityError, ArtifactMissingError, ContentStore, FileRef
from model_registry.artifact_store import sha256_hex


def test_put_get_round_trip_and_dedup(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    first, second = store.put(b"payload"), store.put(b"payload")
    assert first == second == FileRef(sha256=sha256_hex(b"payload"), size=7)
    assert store.get(first) == b"payload"
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing left in staging


def test_modified_blob_is_refused(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    ref = store.put(b"payload")
    (tmp_path / "sha256" / ref.sha256[:2] / ref.sha256).write_bytes(b"tampered")
    with pytest.raises(ArtifactIntegrityError):
        store.get(ref)


def test_corrupted_blob_is_rewritten_on_next_put(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    ref = store.put(b"payload")
    (tmp_path / "sha256" / ref.sha256[:2] / ref.sha256).write_bytes(b"tampered")
    store.put(b"payload")
    assert store.get(ref) == b"payload"


def test_missing_blob_and_bad_digest(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    with pytest.raises(ArtifactMissingError):
        store.get(FileRef(sha256="0" * 64, size=1))
    with pytest.raises(ArtifactMissingError):
        store.get(FileRef.model_construct(sha256="../../etc/passwd", size=1))
