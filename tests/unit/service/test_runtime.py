"""LoadedModels: the swap on alias moves, and what happens when a new version cannot load."""

from pathlib import Path

import pytest

from model_registry import ModelRegistry, RegistrySettings
from service.runtime import LoadedModels, NoServingVersionError
from training import CATALOG, get_spec


@pytest.fixture
def registry(home_copy: Path) -> ModelRegistry:
    opened = ModelRegistry.from_settings(RegistrySettings(home=home_copy))
    yield opened
    opened.close()


def test_refresh_swaps_only_what_moved_and_old_predictors_stay_usable(
    registry: ModelRegistry,
) -> None:
    models = LoadedModels(registry, CATALOG)
    models.refresh()
    before = models.lookup("titanic-survival")
    assert before is not None
    assert before.version == 2
    untouched = models.lookup("iris-pca")

    registry.set_alias("titanic-survival", "production", 1)
    assert models.refresh() == {"titanic-survival": 1}
    assert models.lookup("titanic-survival").version == 1  # type: ignore[union-attr]
    assert models.lookup("iris-pca") is untouched
    example = get_spec("titanic-survival").example_input  # type: ignore[attr-defined]
    assert before.predict([example])  # a request holding the old predictor still finishes


def test_a_version_that_fails_to_load_is_not_swapped_in(
    registry: ModelRegistry, home_copy: Path
) -> None:
    models = LoadedModels(registry, CATALOG)
    models.refresh()
    broken = registry.get_version("titanic-survival", 1)
    ref = broken.files["model.skops"]
    (home_copy / "artifacts" / "sha256" / ref.sha256[:2] / ref.sha256).write_bytes(b"tampered")

    registry.set_alias("titanic-survival", "production", 1)
    assert models.refresh() == {}
    assert models.lookup("titanic-survival").version == 2  # type: ignore[union-attr]
    assert "sha256" in models.failures["titanic-survival"]


def test_untrained_models_are_reported_not_crashed_on(tmp_path: Path) -> None:
    empty = ModelRegistry.from_settings(RegistrySettings(home=tmp_path))
    models = LoadedModels(empty, CATALOG)
    models.refresh()
    assert models.is_ready
    with pytest.raises(NoServingVersionError, match="practica train iris-pca"):
        models.lookup("iris-pca")
    empty.close()
