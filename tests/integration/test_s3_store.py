"""The content store and the registry on S3-compatible storage.

A real S3 server (moto's, on loopback) is reached through s3fs exactly as in production:
the endpoint and the credentials come from botocore's standard environment variables,
the store is named by an `s3://bucket/prefix` URI and nothing else.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from s3fs import S3FileSystem

from model_registry import (
    ArtifactIntegrityError,
    ArtifactMissingError,
    ContentStore,
    FileRef,
    ModelRegistry,
    RegistrySettings,
)
from model_registry.artifact_store import sha256_hex

PAYLOAD = b'{"weights": [0.25, 0.5, 0.75]}'
PREFIX = "artifacts"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """One moto S3 server for the module, on a port the OS picks."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A fresh bucket, with the environment pointing botocore at the test server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "practica-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "practica-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # A developer's own AWS profile must not leak into the test (nor the test into it).
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    name = f"practica-{uuid.uuid4().hex[:12]}"
    _client().create_bucket(Bucket=name)
    yield name
    # fsspec caches filesystems by their arguments, not by the environment they read:
    # drop them so a later test (another server, another port) gets a fresh one.
    S3FileSystem.clear_instance_cache()


def _client() -> Any:
    """A plain boto3 client, independent of the code under test, to inspect the bucket."""
    return boto3.client("s3")


def _keys(bucket: str, prefix: str) -> list[str]:
    listed = _client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def _blob_key(ref: FileRef) -> str:
    return f"{PREFIX}/sha256/{ref.sha256[:2]}/{ref.sha256}"


def test_put_and_get_round_trip_through_the_bucket(bucket: str) -> None:
    store = ContentStore(f"s3://{bucket}/{PREFIX}")
    ref = store.put(PAYLOAD)
    assert ref == FileRef(sha256=sha256_hex(PAYLOAD), size=len(PAYLOAD))
    assert store.put(PAYLOAD) == ref  # stored once
    assert store.get(ref) == PAYLOAD
    stored = _client().get_object(Bucket=bucket, Key=_blob_key(ref))["Body"].read()
    assert stored == PAYLOAD
    assert _keys(bucket, f"{PREFIX}/tmp/") == []  # staging cleaned up
    assert _keys(bucket, PREFIX) == [_blob_key(ref)]


def test_a_second_store_on_the_same_uri_reads_what_the_first_wrote(bucket: str) -> None:
    """Replicas share blobs through the bucket alone."""
    ref = ContentStore(f"s3://{bucket}/{PREFIX}").put(PAYLOAD)
    S3FileSystem.clear_instance_cache()  # no shared client, no shared cache
    assert ContentStore(f"s3://{bucket}/{PREFIX}").get(ref) == PAYLOAD


def test_a_tampered_blob_is_refused_and_repaired_by_the_next_put(bucket: str) -> None:
    store = ContentStore(f"s3://{bucket}/{PREFIX}")
    ref = store.put(PAYLOAD)
    _client().put_object(Bucket=bucket, Key=_blob_key(ref), Body=b'{"weights": [9, 9, 9]}')
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        store.get(ref)
    assert store.put(PAYLOAD) == ref
    assert store.get(ref) == PAYLOAD


def test_a_missing_blob_is_reported_as_missing(bucket: str) -> None:
    store = ContentStore(f"s3://{bucket}/{PREFIX}")
    ref = store.put(PAYLOAD)
    _client().delete_object(Bucket=bucket, Key=_blob_key(ref))
    with pytest.raises(ArtifactMissingError, match=ref.sha256):
        store.get(ref)
    with pytest.raises(ArtifactMissingError):
        store.get(FileRef(sha256="0" * 64, size=1))


def test_a_blob_damaged_on_upload_never_appears_under_its_final_key(
    bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ContentStore(f"s3://{bucket}/{PREFIX}")
    filesystem = store._fs
    write = filesystem.pipe_file
    monkeypatch.setattr(filesystem, "pipe_file", lambda path, data: write(path, data[:-1]))
    with pytest.raises(ArtifactIntegrityError, match="corrupted while being written"):
        store.put(PAYLOAD)
    assert _keys(bucket, PREFIX) == []  # neither the final key nor the damaged staging copy


def test_a_writer_interrupted_before_the_rename_leaves_the_final_key_absent(
    bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ContentStore(f"s3://{bucket}/{PREFIX}")
    filesystem = store._fs

    def connection_lost(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("writer died before moving the blob into place")

    with monkeypatch.context() as patch:
        patch.setattr(filesystem, "mv", connection_lost)
        with pytest.raises(ConnectionError):
            store.put(PAYLOAD)
    ref = FileRef(sha256=sha256_hex(PAYLOAD), size=len(PAYLOAD))
    assert _blob_key(ref) not in _keys(bucket, PREFIX)
    with pytest.raises(ArtifactMissingError):
        store.get(ref)
    # The orphan stays in staging, where no reader looks; a retry publishes normally.
    assert len(_keys(bucket, f"{PREFIX}/tmp/")) == 1
    assert store.put(PAYLOAD) == ref
    assert store.get(ref) == PAYLOAD


def test_registry_publishes_and_verifies_versions_on_s3(bucket: str, database_url: str) -> None:
    """Metadata on SQLite and on PostgreSQL, artifacts in the bucket."""
    settings = RegistrySettings(database_url=database_url, artifact_uri=f"s3://{bucket}/{PREFIX}")
    with ModelRegistry.from_settings(settings) as registry:
        version = registry.publish(
            "demo-model",
            {"model.json": PAYLOAD, "report/metrics.json": b'{"accuracy": 0.9}'},
            flavor="json",
            aliases=["production"],
        )
        assert registry.read_files(version) == {
            "model.json": PAYLOAD,
            "report/metrics.json": b'{"accuracy": 0.9}',
        }
        _client().put_object(Bucket=bucket, Key=_blob_key(version.files["model.json"]), Body=b"{}")
        with pytest.raises(ArtifactIntegrityError):
            registry.read_file(registry.resolve("demo-model"), "model.json")
