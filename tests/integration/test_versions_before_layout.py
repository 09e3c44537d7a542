"""Versions published before the models moved to `training/models/` still load and predict.

`tests/fixtures/versions_before_layout.tar.gz` is a bundle exported by commit af6a2a9
(smoke profile), the last one with the flat `training/` folder. A registry is a long-lived
store: a code reorganisation must never strand the versions already in it.
"""

from pathlib import Path

import pytest

from model_registry import ModelRegistry, import_bundle
from training import CATALOG, LoadContext, ModelSpec
from training.runner import REPORT_PREFIX

BUNDLE = Path(__file__).parents[1] / "fixtures" / "versions_before_layout.tar.gz"
SPECS = {spec.name: spec for spec in CATALOG}


@pytest.fixture(scope="module")
def old_registry(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    from model_registry import RegistrySettings

    home = tmp_path_factory.mktemp("old-versions")
    registry = ModelRegistry.from_settings(RegistrySettings(home=home))
    import_bundle(registry, BUNDLE)
    return registry


def _old_versions() -> list[tuple[str, int]]:
    import json
    import tarfile

    with tarfile.open(BUNDLE) as tar:
        member = tar.extractfile("practica-bundle.json")
        assert member is not None
        manifest = json.load(member)
    return [(m["name"], v["version"]) for m in manifest["models"] for v in m["versions"]]


@pytest.mark.parametrize(("name", "number"), _old_versions())
def test_version_published_before_the_move_loads_and_predicts(
    old_registry: ModelRegistry, name: str, number: int
) -> None:
    spec = SPECS[name]
    version = old_registry.get_version(name, number)
    assert version.flavor == spec.flavor
    files = old_registry.read_files(
        version, [f for f in version.files if not f.startswith(REPORT_PREFIX)]
    )
    artifact = spec.load(files, LoadContext())
    assert isinstance(spec, ModelSpec)
    [prediction] = spec.predict(artifact, [spec.example_input])
    spec.output_schema.model_validate(prediction.model_dump())
