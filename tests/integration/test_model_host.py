"""The multi-model host in process: what a load is charged, and that unloading frees it."""

import gc
import tarfile
import weakref
from pathlib import Path

import pytest

from model_registry import ModelRegistry, RegistrySettings, export_bundle
from service.metrics import ServiceMetrics
from service.multi_model import HostError, ModelHost
from service.settings import ServiceSettings

pytestmark = pytest.mark.anyio


@pytest.fixture
def models_root(trained_home: Path, tmp_path: Path) -> Path:
    """SageMaker's models folder holding cifar10-cnn, unpacked, under the key `photos`."""
    tarball = tmp_path / "cifar10-cnn.tar.gz"
    with ModelRegistry.from_settings(RegistrySettings(home=trained_home)) as registry:
        export_bundle(registry, tarball, ["cifar10-cnn"])
    root = tmp_path / "models"
    with tarfile.open(tarball) as tar:
        tar.extractall(root / "photos" / "model", filter="data")
    return root


def host(models_root: Path, tmp_path: Path, budget_bytes: int) -> ModelHost:
    work_dir = tmp_path / "work"
    work_dir.mkdir(exist_ok=True)
    settings = ServiceSettings(home=tmp_path / "unused", log_json=False)
    return ModelHost(models_root, work_dir, settings, ServiceMetrics(), budget_bytes=budget_bytes)


async def test_unloading_frees_the_model_and_its_charge(models_root: Path, tmp_path: Path) -> None:
    hosting = host(models_root, tmp_path, budget_bytes=2**34)
    hosted = await hosting.load("photos", str(models_root / "photos" / "model"))
    artifact = hosted.loaded.lookup("cifar10-cnn")
    assert artifact is not None
    network = weakref.ref(artifact.artifact)  # the ONNX Runtime session's owner
    assert hosting.charged_bytes == hosted.charge_bytes > 0
    del artifact, hosted

    await hosting.unload("photos")
    gc.collect()
    assert network() is None  # nothing holds the model any more
    assert hosting.charged_bytes == 0
    assert list((tmp_path / "work").iterdir()) == []
    with pytest.raises(HostError) as not_loaded:
        hosting.get("photos")
    assert not_loaded.value.status == 404


async def test_a_model_over_the_budget_is_refused_and_leaves_nothing(
    models_root: Path, tmp_path: Path
) -> None:
    hosting = host(models_root, tmp_path, budget_bytes=1024)
    with pytest.raises(HostError) as refused:
        await hosting.load("photos", str(models_root / "photos" / "model"))
    assert (refused.value.status, refused.value.code) == (507, "insufficient_memory")
    assert hosting.charged_bytes == 0
    assert list((tmp_path / "work").iterdir()) == []


async def test_the_charge_that_only_loading_reveals_is_refused_too(
    models_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files of kilobytes may take megabytes once loaded: the charge is what loading grew
    the process by, so a model whose files fit the budget is still refused, after the load."""
    growth = iter([100 * 2**20, 164 * 2**20])  # resident memory before and after the load
    monkeypatch.setattr("service.multi_model.resident_bytes", lambda: next(growth))
    hosting = host(models_root, tmp_path, budget_bytes=32 * 2**20)
    with pytest.raises(HostError) as refused:
        await hosting.load("photos", str(models_root / "photos" / "model"))
    assert (refused.value.status, refused.value.code) == (507, "insufficient_memory")
    assert "needs 64.0 MiB" in refused.value.detail
    assert hosting.charged_bytes == 0
    assert list((tmp_path / "work").iterdir()) == []
