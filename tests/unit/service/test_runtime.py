"""LoadedModels with fake models: swaps on alias moves, failed loads, and loads off the lock."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_registry import ModelRegistry, RegistrySettings
from service.runtime import LoadedModels, NoServingVersionError
from tests.fakes import EchoInput, EchoSpec, SlowEchoSpec, publish_fake_version


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    opened = ModelRegistry.from_settings(RegistrySettings(home=tmp_path))
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _reset_fakes() -> Iterator[None]:
    EchoSpec.loads.clear()
    yield
    EchoSpec.load_delay_s = 0.0


def test_refresh_swaps_only_what_moved_and_old_predictors_stay_usable(
    registry: ModelRegistry,
) -> None:
    publish_fake_version(registry, offset=1)
    publish_fake_version(registry, offset=2)
    publish_fake_version(registry, SlowEchoSpec(), offset=5)
    registry.set_alias("echo", "production", 1)
    models = LoadedModels(registry, [EchoSpec(), SlowEchoSpec()])
    assert models.refresh() == {"echo": 1, "slow-echo": 1}
    before = models.lookup("echo")
    untouched = models.lookup("slow-echo")
    registry.set_alias("echo", "production", 2)
    assert models.refresh() == {"echo": 2}
    after = models.lookup("echo")
    assert after is not None
    assert after.version == 2
    assert models.lookup("slow-echo") is untouched
    assert before is not None
    assert before.predict([EchoInput(value=1)])[0].value == 2.0
    assert after.predict([EchoInput(value=1)])[0].value == 3.0


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    publish_fake_version(registry, offset=1)
    bad = publish_fake_version(registry, offset=2)
    registry.set_alias("echo", "production", 1)
    models = LoadedModels(registry, [EchoSpec()])
    models.refresh()
    blob = next((tmp_path / "artifacts").rglob(bad.files["echo_artifact.npz"].sha256))
    blob.write_bytes(b"tampered")
    registry.set_alias("echo", "production", 2)
    assert models.refresh() == {}
    serving = models.lookup("echo")
    assert serving is not None
    assert serving.version == 1
    assert "sha256" in models.failures["echo"]


def test_a_model_never_trained_has_no_serving_version(registry: ModelRegistry) -> None:
    models = LoadedModels(registry, [EchoSpec()])
    models.refresh()
    with pytest.raises(NoServingVersionError):
        models.lookup("echo")


def test_concurrent_requests_for_one_pinned_version_share_one_load(
    registry: ModelRegistry,
) -> None:
    publish_fake_version(registry, offset=1)
    publish_fake_version(registry, offset=2)
    models = LoadedModels(registry, [EchoSpec()])
    models.refresh()
    EchoSpec.loads.clear()
    EchoSpec.load_delay_s = 0.2
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(models.load_pinned("echo", 2)))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(EchoSpec.loads) == 1
    assert len({id(r) for r in results}) == 1
    assert results[0].version == 2


def test_a_slow_load_does_not_block_pinned_loads_of_other_versions(
    registry: ModelRegistry,
) -> None:
    publish_fake_version(registry, offset=1)
    publish_fake_version(registry, offset=2)
    registry.set_alias("echo", "production", 1)
    models = LoadedModels(registry, [EchoSpec()])
    models.refresh()
    registry.set_alias("echo", "production", 2)
    EchoSpec.load_delay_s = 1.0
    refresher = threading.Thread(target=models.refresh)
    refresher.start()
    time.sleep(0.1)  # the refresh is now inside its slow load of v2
    EchoSpec.load_delay_s = 0.0
    started = time.perf_counter()
    pinned = models.load_pinned("echo", 1)
    waited = time.perf_counter() - started
    refresher.join()
    assert pinned.version == 1
    assert waited < 0.5, "a pinned load waited for another version's load"


def test_a_refresh_that_swapped_a_version_in_says_so_once(registry: ModelRegistry) -> None:
    publish_fake_version(registry, offset=1)
    publish_fake_version(registry, offset=2)
    registry.set_alias("echo", "production", 1)
    refreshes_with_swaps = []
    models = LoadedModels(
        registry, [EchoSpec()], after_swaps=lambda: refreshes_with_swaps.append(True)
    )
    models.refresh()
    models.refresh()  # nothing moved
    assert refreshes_with_swaps == [True]
    registry.set_alias("echo", "production", 2)
    models.refresh()
    assert refreshes_with_swaps == [True, True]
