"""Save and load scikit-learn estimators with skops, plus a JSON sidecar of metadata."""

from collections.abc import Mapping
from typing import Any

from model_registry.flavors import dump_json, dump_skops, load_json, load_skops
from training.trusted_types import TRUSTED_TYPES

ESTIMATOR_FILE = "model.skops"
META_FILE = "meta.json"


def save_estimator(estimator: Any, meta: Mapping[str, Any] | None = None) -> dict[str, bytes]:
    files = {ESTIMATOR_FILE: dump_skops(estimator)}
    if meta is not None:
        files[META_FILE] = dump_json(dict(meta))
    return files


def load_estimator(files: Mapping[str, bytes]) -> Any:
    return load_skops(files[ESTIMATOR_FILE], TRUSTED_TYPES)


def load_meta(files: Mapping[str, bytes]) -> dict[str, Any]:
    meta: dict[str, Any] = load_json(files[META_FILE])
    return meta
