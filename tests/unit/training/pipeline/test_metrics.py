"""The metrics file of a stage: flat for one version, one group per stage for several."""

import json
from datetime import UTC, datetime
from pathlib import Path

from model_registry import ModelVersion
from training.pipeline.metrics import metrics_document, write_metrics
from training.runner import TrainingOutcome


def _outcome(version: int, metrics: dict[str, float]) -> TrainingOutcome:
    published = ModelVersion(
        name="titanic-survival",
        version=version,
        flavor="skops",
        created_at=datetime.now(UTC),
        files={},
        metrics=metrics,
    )
    return TrainingOutcome(version=published, promoted=True, reason="first version")


def test_one_version_writes_its_metrics_flat(tmp_path: Path) -> None:
    path = tmp_path / "metrics" / "titanic-survival.json"
    write_metrics(path, [_outcome(7, {"cv_accuracy": 0.81, "test_accuracy": 0.8})])
    assert json.loads(path.read_text()) == {"cv_accuracy": 0.81, "test_accuracy": 0.8}


def test_stages_are_grouped_by_number_without_version_numbers() -> None:
    document = metrics_document(
        [_outcome(3, {"cv_accuracy": 0.81}), _outcome(4, {"cv_accuracy": 0.83})]
    )
    assert document == {"stage_1": {"cv_accuracy": 0.81}, "stage_2": {"cv_accuracy": 0.83}}
