"""Training: the model plug-in contract, the catalog, datasets, frameworks and the runner.

    spec.py        the contract every model implements (ModelSpec, AnalysisSpec)
    catalog.py     CATALOG: one line per model, in roadmap order
    models/        one file per catalog entry; `_family.py` helpers shared by a few
    frameworks/    save/load and a base spec per library (numpy, sklearn, xgboost, torch, onnx)
    data/          dataset loaders and held-out splits
    report/        figures and the shared report builders
    algorithms/    from-scratch algorithms used by several models
    runner.py      config → seed → data → fit → evaluate → publish → promote

The catalog is imported on first use, so `import training` does not load every model.
"""

from typing import TYPE_CHECKING, Any

from training.run import TrainingRun
from training.spec import (
    AnalysisSpec,
    AnyModelSpec,
    AnySpec,
    BatchPolicy,
    Floor,
    LoadContext,
    ModelSpec,
    PredictionError,
    Predictor,
    Profile,
    Schema,
    TrainableSpec,
    TrainConfig,
)

if TYPE_CHECKING:
    from training.catalog import CATALOG, get_spec
    from training.runner import TrainingOutcome, train_and_publish

__all__ = [
    "CATALOG",
    "AnalysisSpec",
    "AnyModelSpec",
    "AnySpec",
    "BatchPolicy",
    "Floor",
    "LoadContext",
    "ModelSpec",
    "PredictionError",
    "Predictor",
    "Profile",
    "Schema",
    "TrainConfig",
    "TrainableSpec",
    "TrainingOutcome",
    "TrainingRun",
    "get_spec",
    "train_and_publish",
]

_LAZY = {
    "CATALOG": "training.catalog",
    "get_spec": "training.catalog",
    "TrainingOutcome": "training.runner",
    "train_and_publish": "training.runner",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'training' has no attribute {name!r}")
