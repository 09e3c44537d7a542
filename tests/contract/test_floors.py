"""Quality floors of DESIGN.md section 2, on held-out data, with the full profile.

Marked `full`: every model of the catalog, neural ones included, on 2 cores. `.ci/run` runs them;
locally: `pytest -m full`.
"""

from pathlib import Path

import pytest

from model_registry import ModelRegistry, RegistrySettings
from training import CATALOG, AnySpec, train_and_publish

WITH_FLOORS = [spec for spec in CATALOG if spec.floors]


@pytest.fixture(scope="module")
def full_registry(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    home = tmp_path_factory.mktemp("full-home")
    registry = ModelRegistry.from_settings(RegistrySettings(home=home))
    yield registry
    registry.close()


@pytest.mark.full
@pytest.mark.parametrize("spec", WITH_FLOORS, ids=[s.name for s in WITH_FLOORS])
def test_full_training_meets_every_floor(spec: AnySpec, full_registry: ModelRegistry) -> None:
    outcomes = train_and_publish(spec, full_registry, profile="full")
    for outcome in outcomes:
        metrics = outcome.version.metrics
        for floor in spec.floors:
            assert floor.holds(metrics), (
                f"{spec.name} v{outcome.version.version}: {floor.metric}={metrics[floor.metric]:.6g} "
                f"misses its floor (min {floor.minimum}, max {floor.maximum})"
            )
    if spec.selection_metric and len(outcomes) > 1:
        # A revisited model (Titanic v2) must beat v1 to take production.
        first, last = outcomes[0].version, outcomes[-1].version
        metric = spec.selection_metric
        assert last.metrics[metric] >= first.metrics[metric]
        assert outcomes[-1].promoted == (last.metrics[metric] > first.metrics[metric])


def test_floor_tests_cover_every_model_with_a_floor(tmp_path: Path) -> None:
    assert {s.name for s in WITH_FLOORS} >= {"iris-pca", "house-prices", "titanic-survival"}
    assert RegistrySettings(home=tmp_path).resolved_database_url().startswith("sqlite")
