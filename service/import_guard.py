"""Keep PyTorch out of the serving process.

Networks are served by ONNX Runtime; PyTorch is for training only. Nothing of ours imports
it when serving, but a third party may: skops discovers scikit-learn's estimators by
importing every scikit-learn module, and scikit-learn's array-API shim imports torch when
it is installed (about a second and 300 MB per process). The guard makes such an import
fail as if torch were absent, which both skip gracefully; any other import of it fails
loudly instead of silently bloating a server.
"""

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

TRAINING_ONLY = frozenset({"torch", "torchvision", "transformers", "sentence_transformers"})


class _TrainingOnlyBlocker(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] in TRAINING_ONLY:
            raise ModuleNotFoundError(
                f"{fullname} is a training-only library and is never imported by a Practica "
                "server (networks are served by ONNX Runtime)",
                name=fullname,
            )
        return None


def keep_training_libraries_out() -> bool:
    """Block training-only imports from now on; False when one is loaded already (tests)."""
    if any(name in sys.modules for name in TRAINING_ONLY):
        return False
    if not any(isinstance(finder, _TrainingOnlyBlocker) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TrainingOnlyBlocker())
    return True
