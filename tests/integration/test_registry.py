"""The registry on SQLite and on the real PostgreSQL: numbering, aliases, atomicity, integrity."""

import os
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from model_registry import (
    AliasNotFoundError,
    ArtifactIntegrityError,
    InvalidNameError,
    Lineage,
    ModelNotFoundError,
    ModelRegistry,
    RegistrySettings,
    Signature,
    VersionConflictError,
    VersionNotFoundError,
)
from model_registry.database import create_registry_engine, schema_lock

ROOT = Path(__file__).resolve().parents[2]


def _environment(settings: RegistrySettings) -> dict[str, str]:
    """A subprocess's environment that opens the registry `settings` describe."""
    return {
        **os.environ,
        "PRACTICA_HOME": str(settings.home),
        "PRACTICA_DATABASE_URL": settings.resolved_database_url(),
        "PRACTICA_ARTIFACT_URI": settings.resolved_artifact_uri(),
    }


def _publish(registry: ModelRegistry, payload: bytes = b"weights", **kwargs: object) -> int:
    version = registry.publish("demo-model", {"model.json": payload}, flavor="json", **kwargs)  # type: ignore[arg-type]
    return version.version


def test_publish_numbers_versions_from_one_without_gaps(registry: ModelRegistry) -> None:
    assert [_publish(registry, f"{i}".encode()) for i in range(3)] == [1, 2, 3]
    assert registry.get_model("demo-model").versions == (1, 2, 3)


def test_publish_records_lineage_signature_and_metrics(registry: ModelRegistry) -> None:
    lineage = Lineage(
        dataset_sha256={"data": "ab" * 32}, git_revision="abc123", training_seconds=1.5
    )
    signature = Signature(inputs={"type": "object"}, outputs={"type": "object"})
    registry.publish(
        "demo-model",
        {"model.json": b"{}", "report/metrics.json": b"{}"},
        flavor="json",
        metrics={"accuracy": 0.9},
        params={"c": 1.0},
        lineage=lineage,
        signature=signature,
    )
    stored = registry.get_version("demo-model", 1)
    assert stored.lineage == lineage
    assert stored.signature == signature
    assert stored.metrics == {"accuracy": 0.9}
    assert stored.params == {"c": 1.0}
    assert set(stored.files) == {"model.json", "report/metrics.json"}


def test_timestamps_read_back_in_utc_with_their_offset(registry: ModelRegistry) -> None:
    _publish(registry)
    for stamp in (registry.get_version("demo-model", 1).created_at,
                  registry.get_model("demo-model").created_at):  # fmt: skip
        assert stamp.utcoffset() == timedelta(0), "SQLite hands back naive datetimes"


def test_aliases_move_and_resolve(registry: ModelRegistry) -> None:
    _publish(registry, b"one", aliases=["production"])
    _publish(registry, b"two")
    assert registry.resolve("demo-model").version == 1  # production wins over latest
    registry.set_alias("demo-model", "production", 2)
    registry.set_alias("demo-model", "staging", 1)
    assert registry.resolve("demo-model").version == 2
    assert registry.resolve("demo-model", alias="staging").version == 1
    assert registry.get_version("demo-model", 1).aliases == ("staging",)
    registry.delete_alias("demo-model", "staging")
    with pytest.raises(AliasNotFoundError):
        registry.resolve("demo-model", alias="staging")


def test_resolve_without_production_serves_the_newest(registry: ModelRegistry) -> None:
    _publish(registry, b"one")
    _publish(registry, b"two")
    assert registry.resolve("demo-model").version == 2


def test_unknown_names_and_versions_raise_typed_errors(registry: ModelRegistry) -> None:
    with pytest.raises(ModelNotFoundError):
        registry.get_model("nope")
    _publish(registry)
    with pytest.raises(VersionNotFoundError):
        registry.get_version("demo-model", 9)
    with pytest.raises(VersionNotFoundError):
        registry.set_alias("demo-model", "production", 9)
    for impossible in (0, -1, 2**63, 10**30):  # never sent to the database, where they overflow
        with pytest.raises(VersionNotFoundError):
            registry.get_version("demo-model", impossible)
        with pytest.raises(VersionNotFoundError):
            registry.set_alias("demo-model", "production", impossible)
    with pytest.raises(InvalidNameError):
        registry.publish("../etc", {"a": b""}, flavor="json")
    with pytest.raises(InvalidNameError):
        registry.publish("ok-name", {"../a": b"x"}, flavor="json")


def test_restore_refuses_to_overwrite_a_version_with_other_files(registry: ModelRegistry) -> None:
    _publish(registry, b"original")
    original = registry.get_version("demo-model", 1)
    with pytest.raises(VersionConflictError):
        registry.restore(
            [original.model_copy(update={"files": {"model.json": registry.store.put(b"other")}})]
        )
    assert registry.read_files(registry.get_version("demo-model", 1)) == {"model.json": b"original"}


def test_tampered_artifact_is_refused_on_load(registry: ModelRegistry, tmp_path: Path) -> None:
    _publish(registry, b"trusted bytes")
    version = registry.get_version("demo-model", 1)
    digest = version.files["model.json"].sha256
    blob = tmp_path / "artifacts" / "sha256" / digest[:2] / digest
    blob.write_bytes(b"malicious bytes")
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        registry.read_files(version)


def test_concurrent_publishers_lose_and_duplicate_nothing(
    registry_settings: RegistrySettings,
) -> None:
    publishers, per_publisher = 8, 5
    registries = [ModelRegistry.from_settings(registry_settings) for _ in range(publishers)]
    barrier = threading.Barrier(publishers)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def publish_many(index: int) -> None:
        barrier.wait()
        for round_ in range(per_publisher):
            try:
                numbers.append(_publish(registries[index], f"{index}-{round_}".encode()))
            except BaseException as error:  # collected, then asserted empty
                errors.append(error)

    threads = [threading.Thread(target=publish_many, args=(i,)) for i in range(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in registries:
        opened.close()

    assert errors == []
    expected = list(range(1, publishers * per_publisher + 1))
    assert sorted(numbers) == expected
    check = ModelRegistry.from_settings(registry_settings)
    versions = check.list_versions("demo-model")
    assert [v.version for v in versions] == expected
    payloads = {check.read_files(v)["model.json"] for v in versions}
    assert len(payloads) == publishers * per_publisher  # every publish is its own version
    check.close()


def test_writers_creating_the_same_new_alias_at_once_all_succeed(
    registry_settings: RegistrySettings,
) -> None:
    with ModelRegistry.from_settings(registry_settings) as first:
        for payload in (b"1", b"2"):
            _publish(first, payload)
    writers = 6
    registries = [ModelRegistry.from_settings(registry_settings) for _ in range(writers)]
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def point(index: int) -> None:
        barrier.wait()
        try:
            registries[index].set_alias("demo-model", "canary", 1 + index % 2)
        except BaseException as error:  # collected, then asserted empty
            errors.append(error)

    threads = [threading.Thread(target=point, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert registries[0].get_model("demo-model").aliases["canary"] in (1, 2)
    for opened in registries:
        opened.close()


OPENER = textwrap.dedent(
    """
    import sys
    from model_registry import ModelRegistry, RegistrySettings

    with ModelRegistry.from_settings(RegistrySettings()) as registry:
        registry.publish("demo-model", {"model.json": sys.argv[1].encode()}, flavor="json")
    """
)


def test_processes_opening_a_fresh_registry_at_once_all_succeed(
    registry_settings: RegistrySettings,
) -> None:
    # Started together, they create the schema together: without a lock, all but one
    # failed with "table ... already exists".
    env = _environment(registry_settings)
    openers = [
        subprocess.Popen([sys.executable, "-c", OPENER, str(i)], env=env, cwd=ROOT,
                         stderr=subprocess.PIPE, text=True)
        for i in range(6)
    ]  # fmt: skip
    outcomes = [(opener.communicate(timeout=120)[1], opener.returncode) for opener in openers]
    failures = [stderr[-2000:] for stderr, code in outcomes if code != 0]
    assert failures == []
    with ModelRegistry.from_settings(registry_settings) as registry:
        assert registry.get_model("demo-model").versions == (1, 2, 3, 4, 5, 6)


def test_a_process_migrating_a_fresh_registry_makes_the_others_wait(
    registry_settings: RegistrySettings,
) -> None:
    env = _environment(registry_settings)
    engine = create_registry_engine(registry_settings.resolved_database_url())
    with schema_lock(engine):  # as if another process were migrating right now
        opener = subprocess.Popen(
            [sys.executable, "-c", OPENER, "waited"], env=env, cwd=ROOT, stderr=subprocess.PIPE
        )
        with pytest.raises(subprocess.TimeoutExpired):
            opener.wait(timeout=8)  # it imports (a second or two), then waits for the lock
    assert opener.communicate(timeout=60)[1] is not None
    assert opener.returncode == 0
    engine.dispose()
    with ModelRegistry.from_settings(registry_settings) as registry:
        assert registry.get_model("demo-model").versions == (1,)


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import model_registry.registry as registry_module
    from model_registry import ModelRegistry, RegistrySettings

    point = sys.argv[1]
    real_insert = registry_module._insert_version

    def insert_then_die(*args, **kwargs):
        real_insert(*args, **kwargs)           # the row is written but not committed
        os.kill(os.getpid(), signal.SIGKILL)

    def die_before_insert(*args, **kwargs):    # every blob is stored, nothing committed
        os.kill(os.getpid(), signal.SIGKILL)

    registry_module._insert_version = insert_then_die if point == "in-transaction" else die_before_insert
    registry = ModelRegistry.from_settings(RegistrySettings())
    registry.publish("demo-model", {"model.json": b"half", "big.bin": os.urandom(1 << 20)}, flavor="json")
    """
)


@pytest.mark.parametrize("point", ["after-blobs", "in-transaction"])
def test_killed_publish_leaves_nothing_half_visible(
    registry_settings: RegistrySettings, point: str
) -> None:
    registry = ModelRegistry.from_settings(registry_settings)
    _publish(registry, b"complete")
    env = _environment(registry_settings)
    result = subprocess.run([sys.executable, "-c", KILLER, point], env=env, cwd=ROOT, check=False)
    assert result.returncode == -9  # it really died mid-publish

    assert registry.get_model("demo-model").versions == (1,)
    assert registry.read_files(registry.get_version("demo-model", 1)) == {"model.json": b"complete"}
    assert _publish(registry, b"next") == 2  # no gap left behind
    registry.close()
