"""The metrics file a DVC stage writes: the held-out metrics of the versions it published."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.runner import TrainingOutcome


def metrics_document(outcomes: Sequence[TrainingOutcome]) -> dict[str, Any]:
    """The metrics by key; a model trained in stages (Titanic) nests each under `stage_<n>`.

    Version numbers stay out: they grow with every run, and `dvc metrics diff` would
    report them as changed metrics.
    """
    if len(outcomes) == 1:
        return dict(outcomes[0].version.metrics)
    return {
        f"stage_{number}": dict(outcome.version.metrics)
        for number, outcome in enumerate(outcomes, start=1)
    }


def write_metrics(path: Path, outcomes: Sequence[TrainingOutcome]) -> None:
    """Write the stage's metrics as JSON, creating the folder when needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(metrics_document(outcomes), indent=2, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
