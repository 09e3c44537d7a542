"""Smoke-train a network and open it the way a server would, for parity and unit tests."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pytest

from training import LoadContext, TrainingRun
from training.data.splits import Holdout
from training.frameworks.onnx import Inputs, OnnxNetwork
from training.frameworks.torch import TorchSpec
from training.runner import seed_everything

S = TypeVar("S", bound=TorchSpec[Any, Any, Any])


@dataclass(frozen=True)
class Smoke(Generic[S]):
    """A smoke-profile run: the spec, its config and data, the PyTorch network that
    trained and its ONNX Runtime twin, opened from the saved files as a server would."""

    spec: S
    config: Any
    data: Holdout[Inputs]
    network: Any  # a TorchNetwork, or a model's own artifact holding one
    served: OnnxNetwork


def smoke_trained(spec: S) -> Smoke[S]:
    config = spec.smoke_config()
    seed_everything(config.random_state)
    data = spec.load_data(config, TrainingRun())
    network = spec.fit(config, data, TrainingRun())
    served = spec.load(spec.save(network), LoadContext())
    assert isinstance(served, OnnxNetwork)
    return Smoke(spec, config, data, network, served)


def assert_close(actual: Any, expected: Any, tolerance: float) -> None:
    """Equal labels and structure (dumped predictions); floats within `tolerance`."""
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys()
        for key in expected:
            assert_close(actual[key], expected[key], tolerance)
    elif isinstance(expected, list):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_close(a, e, tolerance)
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=tolerance)
    else:
        assert actual == expected


def assert_padding_changes_no_answer(
    smoke: Smoke[Any], batch: Sequence[Any], tolerance: float
) -> None:
    """Each instance gets the same answer alone as in a batch padded to its longest, from
    PyTorch and from ONNX Runtime, and the two agree within 1e-4."""
    spec = smoke.spec
    for artifact in (smoke.served, smoke.network):
        together = spec.predict(artifact, batch)
        alone = [spec.predict(artifact, [item])[0] for item in batch]
        for a, b in zip(together, alone, strict=True):
            assert_close(a.model_dump(), b.model_dump(), tolerance)
    served, trained = spec.predict(smoke.served, batch), spec.predict(smoke.network, batch)
    for onnx_answer, torch_answer in zip(served, trained, strict=True):
        assert_close(onnx_answer.model_dump(), torch_answer.model_dump(), 1e-4)


def smoke_fixture(spec: TorchSpec[Any, Any, Any]) -> Any:
    """A module-scoped fixture of `smoke_trained(spec)`: one training per test module."""

    @pytest.fixture(scope="module")
    def trained() -> Smoke[Any]:
        return smoke_trained(spec)

    return trained
