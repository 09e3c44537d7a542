"""`python -m training.pipeline train`: a stage's command, on the cheapest model."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model_registry import ModelRegistry, RegistrySettings
from training.pipeline.__main__ import app


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as the working directory, with a registry of its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRACTICA_HOME", str(tmp_path / "home"))
    for variable in ("PRACTICA_DATABASE_URL", "PRACTICA_ARTIFACT_URI"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


def test_train_uses_the_params_section_and_writes_the_metrics(workdir: Path) -> None:
    (workdir / "params.yaml").write_text("iris-pca:\n  test_size: 0.25\n")
    arguments = ["train", "iris-pca", "--metrics", "metrics/iris-pca.json"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "iris-pca v1: production" in result.output
    metrics = json.loads((workdir / "metrics" / "iris-pca.json").read_text())
    with ModelRegistry.from_settings(RegistrySettings(home=workdir / "home")) as registry:
        version = registry.get_version("iris-pca", 1)
    assert version.params["test_size"] == 0.25
    assert version.lineage.profile == "full"
    assert metrics == version.metrics


def test_train_refuses_an_unknown_model_and_a_bad_section(workdir: Path) -> None:
    (workdir / "params.yaml").write_text("iris-pca:\n  test_size: 2\n")
    unknown = CliRunner().invoke(app, ["train", "no-such-model"])
    assert unknown.exit_code == 2
    assert "no model named 'no-such-model'" in unknown.output
    invalid = CliRunner().invoke(app, ["train", "iris-pca"])
    assert invalid.exit_code == 2
    assert "test_size" in invalid.output
