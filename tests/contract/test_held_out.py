"""Every floored model's metrics, measured again through the API on its held-out data.

Here on the smoke-trained versions, where floors do not apply: what is checked is that the
API's answers score exactly what training reported. `test_floors.py` does the same on the
full profile and holds the re-scored numbers to the floors.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model_registry import ModelRegistry, RegistrySettings
from service import ServiceSettings, create_app
from tests.held_out import NOT_RESCORED, rescore
from training import CATALOG
from training.spec import AnyModelSpec, ModelSpec

FLOORED: list[AnyModelSpec] = [s for s in CATALOG if isinstance(s, ModelSpec) and s.floors]


@pytest.fixture(scope="module")
def client(trained_home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ServiceSettings(home=trained_home, log_json=False))) as opened:
        yield opened


@pytest.fixture(scope="module")
def registry(trained_home: Path) -> Iterator[ModelRegistry]:
    opened = ModelRegistry.from_settings(RegistrySettings(home=trained_home))
    yield opened
    opened.close()


def test_every_model_with_floors_says_what_its_held_out_data_is() -> None:
    assert {s.name for s in FLOORED} >= {"house-prices", "titanic-survival", "mnist-mlp"}
    for spec in FLOORED:
        assert type(spec).held_out is not ModelSpec.held_out, spec.name


@pytest.mark.parametrize("spec", FLOORED, ids=[s.name for s in FLOORED])
def test_the_api_scores_what_training_reported(
    spec: AnyModelSpec, client: TestClient, registry: ModelRegistry
) -> None:
    versions = registry.list_versions(spec.name)
    assert versions
    for version in versions:
        rescored = rescore(client, spec, version)
        for floor in spec.version_floors(version.params):
            if (spec.name, floor.metric) not in NOT_RESCORED:
                assert floor.metric in rescored.metrics, f"{spec.name} skips {floor.metric}"
        # Every metric re-scored, not only the floors': a p-value of 1e-59 agrees with any
        # other within a tolerance, the chi-squared statistic it came from does not.
        for metric, value in rescored.metrics.items():
            assert value == pytest.approx(
                version.metrics[metric], abs=rescored.held_out.tolerance
            ), f"{spec.name} v{version.version}: {metric}"
