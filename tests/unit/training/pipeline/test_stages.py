"""dvc.yaml: one stage per model, generated from the catalog, with dependencies that exist."""

import pytest
import yaml

from training import CATALOG, AnySpec, get_spec
from training.pipeline.stages import (
    DVC_FILE,
    METRICS_FOLDER,
    code_dependencies,
    metrics_path,
    pipeline_stages,
    render_pipeline,
)
from training.runner import CHECKOUT, PIPELINE_OUTPUTS


def test_committed_pipeline_equals_the_generated_one() -> None:
    committed = (CHECKOUT / DVC_FILE).read_text(encoding="utf-8")
    assert committed == render_pipeline(CATALOG), (
        "dvc.yaml differs from the catalog: run `python -m training.pipeline write`"
    )
    assert yaml.safe_load(committed) == pipeline_stages(CATALOG)


@pytest.mark.parametrize("spec", CATALOG, ids=lambda spec: spec.name)
def test_each_stage_trains_its_model_from_paths_that_exist(spec: AnySpec) -> None:
    stage = pipeline_stages(CATALOG)["stages"][spec.name]
    assert stage["cmd"].startswith(f"python -m training.pipeline train {spec.name} ")
    assert f"--metrics {metrics_path(spec)}" in stage["cmd"]
    assert stage["params"] == [spec.name]
    assert stage["metrics"] == [{metrics_path(spec): {"cache": False}}]
    for dependency in stage["deps"]:
        assert (CHECKOUT / dependency).exists(), dependency
    assert [d for d in stage["deps"] if d.startswith("data/")] == [
        f"data/{folder}" for folder in spec.data_folders
    ]


def test_a_stage_depends_on_its_own_model_file_and_helpers_not_on_others() -> None:
    knn = code_dependencies(get_spec("mnist-knn"))
    assert knn[:2] == ["training/models/mnist_knn.py", "training/models/_mnist.py"]
    assert "training/models/iris_pca.py" not in knn
    assert "training/catalog.py" not in knn
    assert {"training/spec.py", "training/runner.py", "training/frameworks"} <= set(knn)
    cat_dog = code_dependencies(get_spec("cat-dog"))
    assert cat_dog[:2] == ["training/models/cat_dog.py", "training/models/_images.py"]


def test_metrics_files_do_not_make_the_checkout_dirty() -> None:
    """`dvc repro` writes them between stages; the lineage's dirty flag must not see them."""
    assert METRICS_FOLDER in PIPELINE_OUTPUTS
