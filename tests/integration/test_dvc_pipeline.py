"""The DVC pipeline on a copy of the checkout: every model is a stage, and a stage reproduces.

DVC is an optional extra (`pip install -e ".[dvc]"`); without it these tests skip. The
copy is a git repository of its own, so `dvc params diff` has a commit to compare with and
the version's lineage names that commit.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model_registry import ModelRegistry, RegistrySettings
from training import CATALOG
from training.runner import CHECKOUT

DVC = Path(sys.executable).with_name("dvc")
COPIED = (
    "training",
    "model_registry",
    "data",
    "pyproject.toml",
    "params.yaml",
    "dvc.yaml",
    ".dvcignore",
    ".dvc/config",
    ".dvc/.gitignore",
)

pytestmark = pytest.mark.skipif(
    not DVC.exists(), reason="DVC is an optional extra: pip install -e '.[dvc]'"
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed copy of what the pipeline needs, with DVC's files as in the checkout."""
    root = tmp_path_factory.mktemp("dvc-repo")
    for name in COPIED:
        source, target = CHECKOUT / name, root / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (root / ".gitignore").write_text("__pycache__/\n/home/\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "pipeline")
    return root


def _git(root: Path, *arguments: str) -> None:
    identity = ("-c", "user.name=Practica", "-c", "user.email=practica@example.invalid")
    subprocess.run(["git", *identity, *arguments], cwd=root, check=True, capture_output=True)


def _dvc(root: Path, *arguments: str) -> str:
    """Run DVC in `root` as a user would, with this environment's python first on PATH."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("PRACTICA_", "DVC_"))
    }
    environment.update(
        PATH=f"{DVC.parent}{os.pathsep}{environment.get('PATH', '')}",
        PRACTICA_HOME=str(root / "home"),
        DVC_NO_ANALYTICS="1",
    )
    result = subprocess.run(
        [str(DVC), *arguments], cwd=root, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, f"dvc {' '.join(arguments)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def test_dag_lists_a_stage_for_every_model(repo: Path) -> None:
    dot = _dvc(repo, "dag", "--dot")
    for spec in CATALOG:
        assert f'"{spec.name}"' in dot, spec.name


def test_status_runs_on_the_fresh_pipeline(repo: Path) -> None:
    pending = set(json.loads(_dvc(repo, "status", "--json")))
    assert {spec.name for spec in CATALOG} - {"iris-pca"} <= pending  # no dvc.lock for them


def test_a_stage_reproduces_its_model_and_reports_metrics_and_params(repo: Path) -> None:
    _dvc(repo, "repro", "--single-item", "iris-pca")
    metrics = json.loads((repo / "metrics" / "iris-pca.json").read_text())
    assert metrics["explained_variance_2d"] > 0.9
    assert "iris-pca" not in json.loads(_dvc(repo, "status", "--json", "iris-pca"))
    shown = json.loads(_dvc(repo, "metrics", "show", "--json"))
    assert shown[""]["data"]["metrics/iris-pca.json"]["data"] == metrics

    with ModelRegistry.from_settings(RegistrySettings(home=repo / "home")) as registry:
        version = registry.get_version("iris-pca", 1)
    assert version.lineage.git_revision is not None
    assert version.lineage.has_uncommitted_changes is False  # metrics and dvc.lock don't count
    assert version.metrics == metrics

    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("test_size: 0.3", "test_size: 0.25", 1))
    diff = json.loads(_dvc(repo, "params", "diff", "--json"))
    changed = diff["params.yaml"]["iris-pca.test_size"]
    assert (changed["old"], changed["new"]) == (0.3, 0.25)
    assert "iris-pca" in json.loads(_dvc(repo, "status", "--json", "iris-pca"))
