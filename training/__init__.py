"""Training: the model plug-in contract, the catalog, dataset loaders and the runner."""

from training.catalog import CATALOG, get_spec
from training.run import TrainingRun
from training.runner import TrainingOutcome, train_and_publish
from training.spec import (
    AnalysisSpec,
    AnyModelSpec,
    AnySpec,
    Floor,
    ModelSpec,
    PredictionError,
    Predictor,
    Profile,
    Schema,
    TrainableSpec,
    TrainConfig,
)

__all__ = [
    "CATALOG",
    "AnalysisSpec",
    "AnyModelSpec",
    "AnySpec",
    "Floor",
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
