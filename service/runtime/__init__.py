"""The serving runtime: models in memory, the one inference path, and micro-batching.

loaded_models   LoadedModels: (name, version) → Predictor; hot swaps on alias moves
inference       Inference.infer: lookup, pinned loads, batching, metrics, execution
batching        MicroBatcher: groups concurrent requests for one model into one call
call_costs      what a model call costs, measured at load: on the loop or in the pool
"""

from service.runtime.batching import MicroBatcher
from service.runtime.inference import (
    LARGE_BODY_BYTES,
    Inference,
    InferenceResult,
    InferenceTimeoutError,
    WorkBudgetError,
    off_loop_when,
)
from service.runtime.loaded_models import (
    LoadedModels,
    ModelUnavailableError,
    NoServingVersionError,
)

__all__ = [
    "LARGE_BODY_BYTES",
    "Inference",
    "InferenceResult",
    "InferenceTimeoutError",
    "LoadedModels",
    "MicroBatcher",
    "ModelUnavailableError",
    "NoServingVersionError",
    "WorkBudgetError",
    "off_loop_when",
]
