"""Two `practica serve` processes sharing one PostgreSQL registry and one S3 artifact store.

This is the scale-out of DESIGN.md section 7 without a load balancer in front: replicas
hold no state of their own, so an alias moved through one replica's admin API reaches the
other through the registry alone (its alias poller), and both read the same verified
blobs from the bucket.
"""

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from s3fs import S3FileSystem

from clients import PracticaClient
from model_registry import ModelRegistry, RegistrySettings
from tests.e2e.conftest import ADMIN_TOKEN, free_port, practica_command, wait_until_ready
from training import get_spec, train_and_publish

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

POLL_S = 0.5
# A few poll intervals: the poll itself, then loading the version's blobs from the bucket,
# on a machine that may be busy with other tests.
SWAP_DEADLINE_S = 5.0
MODEL = "iris-pca"
FLOWER = {
    "sepal_length_cm": 5.1,
    "sepal_width_cm": 3.5,
    "petal_length_cm": 1.4,
    "petal_width_cm": 0.2,
}


@dataclass
class Replica:
    url: str
    home: Path
    log: Path


@pytest.fixture
def shared_env(
    postgres_schema_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """What every replica is given: the registry's database, the bucket, the admin token.

    Only standard AWS variables point s3fs at the S3 server; the test process gets them
    too, to publish the versions the replicas will serve.
    """
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3.start()
    host, port = s3.get_host_and_port()
    aws = {
        "AWS_ENDPOINT_URL_S3": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "practica-test",
        "AWS_SECRET_ACCESS_KEY": "practica-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    for name, value in aws.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    bucket = f"practica-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    try:
        yield {
            **os.environ,
            "PRACTICA_DATABASE_URL": postgres_schema_url,
            "PRACTICA_ARTIFACT_URI": f"s3://{bucket}/registry",
            "PRACTICA_ADMIN_TOKEN": ADMIN_TOKEN,
            "PRACTICA_ALIAS_POLL_S": str(POLL_S),
        }
    finally:
        S3FileSystem.clear_instance_cache()  # its clients point at this server's port
        s3.stop()


@pytest.fixture
def two_versions(shared_env: dict[str, str]) -> None:
    """iris-pca v1 and v2 in the shared registry, `production` on v1."""
    settings = RegistrySettings(
        database_url=shared_env["PRACTICA_DATABASE_URL"],
        artifact_uri=shared_env["PRACTICA_ARTIFACT_URI"],
    )
    with ModelRegistry.from_settings(settings) as registry:
        for _ in range(2):
            train_and_publish(get_spec(MODEL), registry, profile="smoke")
        registry.set_alias(MODEL, "production", 1)
        assert registry.get_model(MODEL).versions == (1, 2)


@pytest.fixture
def replicas(
    shared_env: dict[str, str], two_versions: None, tmp_path: Path
) -> Iterator[list[Replica]]:
    """Two server processes on free ports, each with a home of its own (left unused)."""
    started: list[tuple[Replica, subprocess.Popen[bytes]]] = []
    try:
        for index in range(2):
            home = tmp_path / f"replica-{index}"
            log = tmp_path / f"replica-{index}.log"
            port = free_port()
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [*practica_command(), "serve", "--port", str(port)],
                    env={**shared_env, "PRACTICA_HOME": str(home)},
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            started.append((Replica(f"http://127.0.0.1:{port}", home, log), process))
        # Both processes start at once; then wait for each.
        for replica, process in started:
            wait_until_ready(replica.url, process)
        yield [replica for replica, _ in started]
    finally:
        for _, process in started:
            process.terminate()
        for _, process in started:
            process.wait(timeout=20)


def _serving_version(replica: Replica) -> int:
    with PracticaClient(replica.url) as client:
        return client.predict(MODEL, [FLOWER]).version


def _wait_for_version(replica: Replica, version: int) -> float:
    """Seconds until `replica` answers with `version`; fails after the deadline."""
    start = time.monotonic()
    while (served := _serving_version(replica)) != version:
        elapsed = time.monotonic() - start
        assert elapsed < SWAP_DEADLINE_S, (
            f"{replica.url} still serves v{served} {elapsed:.1f} s after the move; "
            f"its log:\n{replica.log.read_text()[-2000:]}"
        )
        time.sleep(0.1)
    return time.monotonic() - start


def test_an_alias_moved_on_one_replica_reaches_the_other(replicas: list[Replica]) -> None:
    first, second = replicas
    assert [_serving_version(r) for r in replicas] == [1, 1]

    with PracticaClient(first.url, admin_token=ADMIN_TOKEN) as admin:
        assert admin.set_alias(MODEL, "production", 2).version == 2
    assert _serving_version(first) == 2  # the admin route swaps its own server at once
    _wait_for_version(second, 2)

    # And back, through the other replica.
    with PracticaClient(second.url, admin_token=ADMIN_TOKEN) as admin:
        assert admin.set_alias(MODEL, "production", 1).version == 1
    assert _serving_version(second) == 1
    _wait_for_version(first, 1)

    for replica in replicas:
        with PracticaClient(replica.url) as client:
            assert client.readiness().serving[MODEL] == 1
        # Every blob came from the bucket: nothing was written under the replica's home.
        assert not (replica.home / "artifacts").exists()
