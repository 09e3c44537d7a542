"""Compiled runtimes for classic models: a fitted estimator converted to an ONNX graph.

A scikit-learn pipeline or an XGBoost booster costs milliseconds per call in Python
overhead, whatever the batch; the same model as an ONNX graph answers one row in tens of
microseconds. A converted version stores the graph as `compiled.onnx` beside the
original estimator, which stays for reports; the artifact's `compiled` field holds the
graph's session (`compiled: CompiledGraph | None = field(default=None, metadata=RUNTIME)`),
and `predict` prefers it. A version without the file (published before its model was
converted) loads with `compiled = None` and is served by its estimator.

Conversion (skl2onnx, onnxmltools) runs in training only, and a graph is published only
after it answered held-out inputs as the estimator did (`check_parity`): a converter that
gets a model wrong fails the training run instead of serving wrong answers. A server
only opens the graph, with ONNX Runtime. Steps that convert poorly (TF-IDF, k-NN) are
replayed in NumPy instead (`replay.py`), checked the same way; a k-NN over 8-bit images
runs its one matrix product as a graph built here (`integer_product_graph`).
"""

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from training.frameworks.onnx import open_session
from training.spec import LoadContext

COMPILED_FILE = "compiled.onnx"
FLOAT32_RTOL = 1e-4
"""Parity tolerance of a float32 graph (tree ensembles: ONNX Runtime's trees are float32)."""
FLOAT64_RTOL = 1e-5
OPSETS = {"": 18, "ai.onnx.ml": 3}
"""ONNX opsets of converted graphs: `ai.onnx.ml` 3 for string imputers and label encoders."""
XGBOOST_OPSET = 15  # the newest onnxmltools converts boosters to

ColumnType = Literal["float", "double", "string"]
_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(string)": np.str_}


class ParityError(Exception):
    """A compiled graph or replay answers differently from the estimator it came from."""


class CompiledGraph:
    """An ONNX graph converted from a fitted model, opened in an ONNX Runtime session."""

    def __init__(self, graph: bytes, context: LoadContext) -> None:
        self.graph = graph
        self.session = open_session(graph, context)
        self.inputs = {i.name: _DTYPES.get(i.type, np.float32) for i in self.session.get_inputs()}

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Every output, in the graph's order, for arrays by input name."""
        return list(self.session.run(None, dict(feeds)))

    def run_columns(self, columns: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Every output for a graph with one input per column (a converted pipeline's):
        each column becomes an (n, 1) array of the type its input declares."""
        return self.run({
            name: np.asarray(columns[name], dtype=dtype).reshape(-1, 1)
            for name, dtype in self.inputs.items()
        })  # fmt: skip


def compiled_files(artifact: Any) -> dict[str, bytes]:
    """The file of the artifact's compiled graph, if it has one: what `save` adds."""
    compiled: CompiledGraph | None = getattr(artifact, "compiled", None)
    return {} if compiled is None else {COMPILED_FILE: compiled.graph}


def with_compiled(artifact: Any, files: Mapping[str, bytes], context: LoadContext) -> Any:
    """The artifact with its graph opened, when the version stores one."""
    if COMPILED_FILE not in files or not hasattr(artifact, "compiled"):
        return artifact
    return dataclasses.replace(artifact, compiled=CompiledGraph(files[COMPILED_FILE], context))


def check_parity(what: str, expected: np.ndarray, actual: np.ndarray, *, rtol: float) -> None:
    """Refuse a compiled graph or replay whose answers differ from the estimator's.

    Labels (integers, booleans, strings) must be identical; numbers must agree within
    `rtol` relative. Probabilities near 0 carry no relative precision in float32, so a
    number also passes within `rtol` absolute of an expected value below 1.
    """
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape:
        raise ParityError(f"{what}: shape {actual.shape} compiled, {expected.shape} expected")
    if expected.dtype.kind not in "fc":
        wrong = np.flatnonzero((expected != actual).reshape(len(expected), -1).any(axis=1))
        if len(wrong):
            raise ParityError(
                f"{what}: compiling changes {len(wrong)} of {len(expected)} answers "
                f"(first at row {wrong[0]}); the version is not published"
            )
        return
    difference = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    allowed = rtol * np.maximum(np.abs(expected.astype(np.float64)), 1.0)
    if not np.all(difference <= allowed):
        worst = int(np.argmax(difference - allowed))
        raise ParityError(
            f"{what}: the compiled model differs from the estimator by up to "
            f"{difference.ravel()[worst]:.3g} (allowed {allowed.ravel()[worst]:.3g}); the "
            "version is not published"
        )


def check_classifier_parity(
    what: str, expected: np.ndarray, actual: np.ndarray, *, threshold: float, rtol: float
) -> None:
    """`check_parity` of a binary classifier's probabilities and of its labels at `threshold`."""
    check_parity(f"{what} probability", expected, actual, rtol=rtol)
    check_parity(f"{what} label", expected >= threshold, actual >= threshold, rtol=0)


def sklearn_graph(estimator: Any, columns: Mapping[str, ColumnType]) -> bytes:
    """A fitted scikit-learn pipeline as an ONNX graph with one (n, 1) input per column.

    A classifier's probabilities come out as an (n, n_classes) tensor, not as a list of
    dicts (skl2onnx's `zipmap`).
    """
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    types = {"float": FloatTensorType, "double": DoubleTensorType, "string": StringTensorType}
    return _converted(estimator, [(name, types[kind]([None, 1])) for name, kind in columns.items()])


def sklearn_matrix_graph(estimator: Any, n_features: int) -> bytes:
    """A fitted scikit-learn model (no preprocessing) as an ONNX graph of one float input,
    `input` (n, n_features); probabilities as in `sklearn_graph`."""
    from skl2onnx.common.data_types import FloatTensorType

    return _converted(estimator, [("input", FloatTensorType([None, n_features]))])


def _converted(estimator: Any, inputs: list[tuple[str, Any]]) -> bytes:
    from skl2onnx import convert_sklearn

    final = _final_step(estimator)
    options = {type(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    with warnings.catch_warnings():  # the converters' own deprecations are not ours to fix
        warnings.simplefilter("ignore")
        graph = convert_sklearn(
            estimator, initial_types=inputs, target_opset=OPSETS, options=options
        )
    return bytes(graph.SerializeToString())


def xgboost_graph(booster: Any, n_features: int) -> bytes:
    """A trained XGBoost booster as an ONNX graph of one float input, `input` (n, n_features)."""
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    # The converter reads features by position and refuses named ones ('fico' for 'f3').
    unnamed = booster.copy()
    unnamed.feature_names = None
    unnamed.feature_types = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = convert_xgboost(
            unnamed, initial_types=[("input", FloatTensorType([None, n_features]))],
            target_opset=XGBOOST_OPSET,
        )  # fmt: skip
    return bytes(graph.SerializeToString())


def integer_product_graph(codes: np.ndarray) -> bytes:
    """A graph of one uint8 input, `input` (n, d), times the stored uint8 `codes` (m, d)
    transposed: (n, m) int32 products, exact, ONNX Runtime's quantized kernels (a quarter
    of the float32 matrix's memory to read per call)."""
    from onnx import TensorProto, helper, numpy_helper

    if codes.dtype != np.uint8 or codes.ndim != 2:
        raise ValueError(f"codes are a uint8 matrix, not {codes.dtype} {codes.shape}")
    n_codes, width = codes.shape
    stored = numpy_helper.from_array(np.ascontiguousarray(codes.T), "codes")
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["input", "codes"], ["products"])],
        "integer_products",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, [None, width])],
        [helper.make_tensor_value_info("products", TensorProto.INT32, [None, n_codes])],
        [stored],
    )
    opsets = [helper.make_opsetid("", OPSETS[""])]
    model = helper.make_model(
        graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets)
    )
    return bytes(model.SerializeToString())


def _final_step(estimator: Any) -> Any:
    steps: Sequence[tuple[str, Any]] = getattr(estimator, "steps", [])
    return steps[-1][1] if steps else estimator
