"""The serving runtime: models in memory, the one inference path, and micro-batching.

loaded_models   LoadedModels: (name, version) → Predictor; hot swaps on alias moves
inference       Inference.infer: lookup, pinned loads, batching, metrics, execution
batching        MicroBatcher: groups concurrent requests for one model into one call
"""

from service.runtime.batching import MicroBatcher
from service.runtime.inference import (
    Inference,
    InferenceResult,
    InferenceTimeoutError,
    WorkBudgetError,
)
from service.runtime.loaded_models import (
    LoadedModels,
    ModelUnavailableError,
    NoServingVersionError,
)

__all__ = [
    "Inference",
    "InferenceResult",
    "InferenceTimeoutError",
    "LoadedModels",
    "MicroBatcher",
    "ModelUnavailableError",
    "NoServingVersionError",
    "WorkBudgetError",
]
