import base64

import numpy as np
import pytest
import torch

from tests.networks import Smoke, smoke_fixture
from training.data.image_sets import load_cifar10
from training.frameworks.torch import TorchNetwork
from training.models.cifar10_cnn import CLASSES, PREPROCESSING, Cifar10Cnn, CifarImage
from training.run import TrainingRun

trained = smoke_fixture(Cifar10Cnn())


def test_the_two_runs_differ_only_in_dropout(trained: Smoke[Cifar10Cnn]) -> None:
    config, network = trained.config, trained.network

    def rates(n: TorchNetwork) -> list[float]:
        return [m.p for m in n.module.modules() if isinstance(m, torch.nn.Dropout)]

    assert rates(network) == [config.dropout / 2, config.dropout]
    assert rates(network.baseline) == [0.0]
    assert network.meta == network.baseline.meta


def test_evaluate_reports_both_runs_and_the_held_out_accuracy(trained: Smoke[Cifar10Cnn]) -> None:
    spec, config, data, network = trained.spec, trained.config, trained.data, trained.network
    run = TrainingRun()
    metrics = spec.evaluate(network, data, config, run)
    assert metrics["val_accuracy"] == metrics["test_accuracy"]
    comparison = run.tables["dropout_comparison"]
    assert set(comparison) == {"no dropout", "dropout"}
    common = min(row["epochs"] for row in comparison.values())
    assert all(f"gap_at_epoch_{common}" in row for row in comparison.values())
    assert set(run.tables["learning_curves"]) == {"no dropout", "dropout"}
    assert {"learning_curves", "confusion_matrix"} <= set(run.plots)


def test_decode_names_each_probability_by_its_class(trained: Smoke[Cifar10Cnn]) -> None:
    spec, served = trained.spec, trained.served
    logits = np.full((1, 10), -5.0, dtype=np.float32)
    logits[0, CLASSES.index("ship")] = 5.0
    [prediction] = spec.decode(served, logits)
    assert prediction.label == "ship"
    probabilities = prediction.probabilities.model_dump()
    assert list(probabilities) == list(CLASSES)
    assert max(probabilities, key=lambda k: probabilities[k]) == "ship"
    assert sum(probabilities.values()) == pytest.approx(1.0)


def test_encode_prepares_a_request_like_the_training_images(trained: Smoke[Cifar10Cnn]) -> None:
    spec, served = trained.spec, trained.served
    inputs = spec.encode(served, [spec.example_input, spec.example_input])
    assert inputs["image"].shape == (2, 3, 32, 32)
    assert inputs["image"].dtype == np.float32
    assert isinstance(spec.example_input, CifarImage)
    # The example is CIFAR-10's ship/0001.jpg: the request path gives the training input.
    files = load_cifar10(TrainingRun())
    content = files.contents[files.paths.index("ship/0001.jpg")]
    assert content == base64.b64decode(spec.example_input.image_base64)
    expected = PREPROCESSING.normalise(PREPROCESSING.pixels(content)[None])[0]
    assert np.array_equal(inputs["image"][0], expected)
