"""Pickle-free flavors: round trips, and refusal of anything that would execute code."""

import io

import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression

from model_registry import ArtifactIntegrityError
from model_registry.flavors import (
    dump_json,
    dump_npz,
    dump_skops,
    dump_xgboost,
    load_json,
    load_npz,
    load_skops,
    load_xgboost,
)
from training.frameworks.sklearn import TRUSTED_TYPES


def test_npz_round_trip() -> None:
    arrays = {"w": np.arange(6.0).reshape(2, 3), "names": np.array(["a", "b"])}
    loaded = load_npz(dump_npz(arrays))
    assert np.array_equal(loaded["w"], arrays["w"])
    assert loaded["names"].tolist() == ["a", "b"]


def test_npz_refuses_object_arrays_that_need_pickle() -> None:
    with pytest.raises(ValueError, match="pickle"):
        dump_npz({"evil": np.array([{"a": 1}], dtype=object)})
    buffer = io.BytesIO()
    np.savez(buffer, evil=np.array([{"a": 1}], dtype=object))  # written by someone else
    with pytest.raises(ValueError, match="pickle"):
        load_npz(buffer.getvalue())


def test_json_refuses_non_finite_numbers() -> None:
    assert load_json(dump_json({"a": 1.5})) == {"a": 1.5}
    with pytest.raises(ValueError, match="JSON"):
        dump_json({"a": float("nan")})


def test_skops_round_trip_with_trusted_types() -> None:
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    loaded = load_skops(dump_skops(model), TRUSTED_TYPES)
    assert loaded.predict([[2.5]]).tolist() == [1]


class Gadget:
    """A type no trusted list names: loading it could run arbitrary code."""

    def __init__(self) -> None:
        self.payload = "rm -rf /"


def test_skops_refuses_types_outside_our_trusted_list() -> None:
    data = skops.io.dumps(Gadget())
    with pytest.raises(ArtifactIntegrityError, match="Gadget"):
        load_skops(data, TRUSTED_TYPES)


def test_xgboost_round_trip_in_its_own_format() -> None:
    import xgboost

    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    booster = xgboost.train(
        {"objective": "binary:logistic"}, xgboost.DMatrix(X, label=[0, 0, 1, 1]), 3
    )
    loaded = load_xgboost(dump_xgboost(booster))
    assert np.allclose(loaded.predict(xgboost.DMatrix(X)), booster.predict(xgboost.DMatrix(X)))
