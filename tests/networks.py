"""Smoke-train a network and open it the way a server would, for parity tests."""

from typing import Any

from training import LoadContext, TrainingRun
from training.frameworks.onnx import OnnxNetwork
from training.frameworks.torch import TorchNetwork, TorchSpec
from training.runner import seed_everything


def smoke_trained(spec: TorchSpec[Any, Any, Any]) -> tuple[Any, Any, TorchNetwork, OnnxNetwork]:
    """(config, data, the PyTorch network, its ONNX Runtime twin) of a smoke-profile run."""
    config = spec.smoke_config()
    seed_everything(config.random_state)
    data = spec.load_data(config, TrainingRun())
    network = spec.fit(config, data, TrainingRun())
    assert isinstance(network, TorchNetwork)
    served = spec.load(spec.save(network), LoadContext())
    assert isinstance(served, OnnxNetwork)
    return config, data, network, served
