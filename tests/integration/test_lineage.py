"""Lineage through the API (module 22): what a version was trained from, and against what.

Two cheap models are smoke-trained into a registry of their own: `iris-pca` twice from
this checkout, so its second version names the first as its parent, and `house-prices`
from a stated revision with uncommitted changes.
"""

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from model_registry import ModelRegistry, RegistrySettings, import_bundle
from service import ServiceSettings, create_app
from training import get_spec, train_and_publish
from training.runner import CHECKOUT, CodeRevision

SHA256 = re.compile(r"^[0-9a-f]{64}$")
STATED_COMMIT = "0123456789abcdef0123456789abcdef01234567"
OLD_BUNDLE = Path(__file__).parents[1] / "fixtures" / "versions_before_layout.tar.gz"


def _checkout_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=CHECKOUT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


@pytest.fixture(scope="module")
def lineage_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("lineage-home")
    with ModelRegistry.from_settings(RegistrySettings(home=home)) as registry:
        for _ in range(2):
            train_and_publish(get_spec("iris-pca"), registry, profile="smoke")
        with pytest.MonkeyPatch.context() as patch:
            stated = CodeRevision(commit=STATED_COMMIT, has_uncommitted_changes=True)
            patch.setattr("training.runner.code_revision", lambda: stated)
            train_and_publish(get_spec("house-prices"), registry, profile="smoke")
    return home


@pytest.fixture(scope="module")
def client(lineage_home: Path) -> Iterator[TestClient]:
    settings = ServiceSettings(home=lineage_home, log_json=False)
    with TestClient(create_app(settings)) as opened:
        yield opened


def _versions(client: TestClient, name: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/models/{name}")
    assert response.status_code == 200
    versions: list[dict[str, Any]] = response.json()["version_details"]
    return versions


def test_version_shows_the_code_revision_and_whether_it_was_committed(
    client: TestClient,
) -> None:
    first, _ = _versions(client, "iris-pca")
    lineage = first["lineage"]
    commit = _checkout_commit()
    assert lineage["git_revision"] == commit
    assert isinstance(lineage["has_uncommitted_changes"], bool) == (commit is not None)
    [stated] = _versions(client, "house-prices")
    assert stated["lineage"]["git_revision"] == STATED_COMMIT
    assert stated["lineage"]["has_uncommitted_changes"] is True


def test_version_names_the_production_version_it_was_compared_against(
    client: TestClient,
) -> None:
    first, second = _versions(client, "iris-pca")
    assert first["lineage"]["parent_version"] is None
    assert second["lineage"]["parent_version"] == 1


def test_version_shows_data_hashes_libraries_config_and_metrics(client: TestClient) -> None:
    [version] = _versions(client, "house-prices")
    lineage = version["lineage"]
    assert SHA256.fullmatch(lineage["dataset_sha256"]["boston_housing"])
    libraries = lineage["library_versions"]
    assert {"numpy", "scikit-learn", "mlxtend"} <= set(libraries)
    assert all(libraries.values())
    assert version["params"] == get_spec("house-prices").smoke_config().model_dump(mode="json")
    assert version["metrics"]["test_r2"] <= 1
    assert lineage["profile"] == "smoke"


def test_versions_from_before_the_new_fields_still_show_their_lineage(tmp_path: Path) -> None:
    with ModelRegistry.from_settings(RegistrySettings(home=tmp_path)) as registry:
        import_bundle(registry, OLD_BUNDLE)
    with TestClient(create_app(ServiceSettings(home=tmp_path, log_json=False))) as opened:
        [old] = _versions(opened, "iris-pca")
    assert old["lineage"]["git_revision"] == "af6a2a93fe933acdb2a12e0a02bbcdfdf5db16c9"
    assert old["lineage"]["has_uncommitted_changes"] is False
    assert old["lineage"]["parent_version"] is None
    assert SHA256.fullmatch(old["lineage"]["dataset_sha256"]["iris"])
