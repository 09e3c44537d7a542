"""Every network: ONNX Runtime (what serves) answers as PyTorch (what trained) did.

Parametrised over the catalog's PyTorch specs: smoke-trained here, exported through the
spec's own `save`, opened by its `load` (ONNX Runtime, no torch) and compared on held-out
inputs: the same labels, probabilities within 1e-4.
"""

from typing import Any

import numpy as np
import pytest

from tests.networks import assert_close, smoke_trained
from training import CATALOG
from training.frameworks.onnx import softmax, take
from training.frameworks.torch import TorchSpec

NETWORKS = [spec for spec in CATALOG if isinstance(spec, TorchSpec)]


@pytest.mark.parametrize("spec", NETWORKS, ids=[s.name for s in NETWORKS])
def test_onnx_runtime_matches_pytorch_on_held_out_inputs(spec: TorchSpec[Any, Any, Any]) -> None:
    smoke = smoke_trained(spec)
    data, trained, served = smoke.data, smoke.network, smoke.served

    n_rows = min(16, len(data.y_test))
    held_out = take(data.X_test, slice(0, n_rows))
    expected, actual = trained.run(held_out), served.run(held_out)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual.argmax(axis=-1), expected.argmax(axis=-1))
    np.testing.assert_allclose(
        softmax(actual.astype(np.float64)), softmax(expected.astype(np.float64)), atol=1e-4
    )
    # The whole path, as a request takes it: typed instances in, typed predictions out.
    example = [spec.example_input, spec.example_input]
    for onnx_answer, torch_answer in zip(
        spec.predict(served, example), spec.predict(trained, example), strict=True
    ):
        assert_close(onnx_answer.model_dump(), torch_answer.model_dump(), 1e-4)


def test_the_catalog_has_networks() -> None:
    assert len(NETWORKS) >= 1
