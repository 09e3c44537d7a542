"""Pickle-free serialisation of model artifacts.

Each flavor turns an in-memory object into bytes and back without executing code from
the artifact: NumPy archives load with `allow_pickle=False`, skops loads only the types
our code trusts (the list is passed in by the caller, never read from the artifact),
XGBoost uses its own UBJSON format, and everything else is JSON.
"""

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from model_registry.errors import ArtifactIntegrityError


def dump_npz(arrays: Mapping[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    contents: dict[str, Any] = {key: np.asarray(value) for key, value in arrays.items()}
    np.savez(buffer, allow_pickle=False, **contents)
    return buffer.getvalue()


def load_npz(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def dump_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, allow_nan=False).encode()


def load_json(data: bytes) -> Any:
    return json.loads(data)


def dump_skops(obj: Any) -> bytes:
    import skops.io

    return bytes(skops.io.dumps(obj))


def load_skops(data: bytes, trusted: Sequence[str]) -> Any:
    """Load a skops artifact, refusing it if it needs any type outside `trusted`."""
    import skops.io

    untrusted = set(skops.io.get_untrusted_types(data=data)) - set(trusted)
    if untrusted:
        raise ArtifactIntegrityError(
            "refusing to load a skops artifact with types outside the trusted list: "
            + ", ".join(sorted(untrusted))
        )
    return skops.io.loads(data, trusted=list(trusted))


def dump_xgboost(booster: Any) -> bytes:
    return bytes(booster.save_raw(raw_format="ubj"))


def load_xgboost(data: bytes) -> Any:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(data))
    return booster
