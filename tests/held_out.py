"""Re-scoring a published version on its held-out data through the API (DESIGN.md section 2).

The version is not trusted with its own numbers: its held-out instances go to the predict
route as JSON, in batches the server accepts, and the JSON answers are scored again.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from model_registry import ModelVersion
from training import TrainingRun
from training.spec import AnyModelSpec, HeldOut

MAX_REQUEST_BYTES = 2_000_000
"""Well under the server's body cap, so a batch of large instances (images) still fits."""

NOT_RESCORED = {
    ("titanic-survival", "cv_accuracy"): "cross-validation refits on folds of the training part",
    ("review-sentiment", "cv_accuracy"): "cross-validation refits on folds of the training part",
    ("cat-dog", "cv_accuracy"): "cross-validation refits on folds of the training part",
    ("xor-net", "max_rel_error"): "the gradient check measures training code, not answers",
}
"""Floors no answer of the API can measure, each reported beside a held-out floor that the
re-scoring checks."""


@dataclass(frozen=True)
class Rescored:
    held_out: HeldOut
    metrics: dict[str, float]


def rescore(client: TestClient, spec: AnyModelSpec, version: ModelVersion) -> Rescored:
    """`version`'s held-out instances answered by the API, and the answers scored."""
    config = spec.config_schema.model_validate(version.params)
    held_out = spec.held_out(config, TrainingRun())
    assert held_out is not None, f"{spec.name} has floors but no held-out data to re-score"
    assert held_out.instances, f"{spec.name}'s held-out data is empty"
    predictions: list[dict[str, Any]] = []
    for batch in batches(spec, held_out.instances):
        response = client.post(
            f"/v1/models/{spec.name}/predict",
            params={"version": version.version},
            json={"instances": batch},
        )
        assert response.status_code == 200, f"{spec.name}: {response.text[:500]}"
        predictions.extend(response.json()["predictions"])
    assert len(predictions) == len(held_out.instances)
    return Rescored(held_out, held_out.score(predictions))


def batches(spec: AnyModelSpec, instances: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches within the model's batch size, work budget and a body size."""
    batch: list[dict[str, Any]] = []
    size = work = 0
    for instance in instances:
        instance_size = len(json.dumps(instance))
        instance_work = spec.work(spec.input_schema.model_validate(instance))
        full = (
            len(batch) == spec.max_batch_size
            or size + instance_size > MAX_REQUEST_BYTES
            or (spec.max_work is not None and work + instance_work > spec.max_work)
        )
        if batch and full:
            yield batch
            batch, size, work = [], 0, 0
        batch.append(instance)
        size += instance_size
        work += instance_work
    if batch:
        yield batch
