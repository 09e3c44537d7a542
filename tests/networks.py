"""Smoke-train a network and open it the way a server would, for parity and unit tests."""

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


def smoke_fixture(spec: TorchSpec[Any, Any, Any]) -> Any:
    """A module-scoped fixture of `smoke_trained(spec)`: one training per test module."""

    @pytest.fixture(scope="module")
    def trained() -> Smoke[Any]:
        return smoke_trained(spec)

    return trained
