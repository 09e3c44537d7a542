"""Module 15: a multilayer perceptron on MNIST, trained with PyTorch, served by ONNX Runtime."""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from training.data.splits import Holdout
from training.frameworks.onnx import Inputs, Network, softmax
from training.frameworks.torch import TorchNetwork, TorchSpec, TorchTrainConfig
from training.models._mnist import (
    EXAMPLE_DIGIT,
    DigitImage,
    DigitPrediction,
    digit_predictions,
    held_out_digits,
    knn_accuracy,
    pixel_matrix,
    shifted_copies,
    split_mnist,
)
from training.report.classification import report_classification
from training.report.curves import plot_learning_curves
from training.run import TrainingRun
from training.spec import BatchPolicy, Floor, HeldOut

if TYPE_CHECKING:
    import torch


class MnistMlpTrainConfig(TorchTrainConfig):
    hidden: tuple[int, ...] = Field((256, 128), min_length=1, description="hidden layer widths")
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout after each hidden layer")
    shift_augment: bool = Field(True, description="add copies shifted by one pixel to training")
    epochs: int = 30
    weight_decay: float = 1e-4
    patience: int = 4


class MnistMlp(TorchSpec[DigitImage, DigitPrediction, MnistMlpTrainConfig]):
    name, module, kind = "mnist-mlp", 15, "classifier"
    title = "A multilayer perceptron on MNIST (PyTorch, served by ONNX Runtime)"
    input_names = ("pixels",)
    example_input = DigitImage(pixels=EXAMPLE_DIGIT)
    floors = (Floor("test_accuracy", minimum=0.94),)
    # A call costs ~50 µs of fixed overhead against ~2 µs per digit: worth sharing.
    batch_policy = BatchPolicy(max_items=64)
    selection_metric = "test_accuracy"

    def smoke_config(self) -> MnistMlpTrainConfig:
        return MnistMlpTrainConfig(hidden=(32,), epochs=2, max_samples=600, shift_augment=False)

    def load_data(self, config: MnistMlpTrainConfig, run: TrainingRun) -> Holdout[Inputs]:
        # The same seed and test share as mnist-knn: both are scored on the same digits.
        data = split_mnist(run, config)
        data = shifted_copies(data) if config.shift_augment else data
        return data.map(lambda pixels: {"pixels": pixels})

    def build(self, config: MnistMlpTrainConfig, meta: Mapping[str, Any]) -> "torch.nn.Module":
        from torch import nn

        layers: list[nn.Module] = []
        width = 784
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            width = hidden
        return nn.Sequential(*layers, nn.Linear(width, 10))

    def evaluate(
        self, artifact: Network, data: Holdout[Inputs], config: MnistMlpTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:  # fmt: skip
        assert isinstance(artifact, TorchNetwork)
        predicted = artifact.run(data.X_test).argmax(axis=1)
        metrics = report_classification(run, data.y_test, predicted)
        plot_learning_curves(run, {"MLP": artifact.history.as_series()})
        knn, best_epoch = knn_accuracy(data.map(lambda x: x["pixels"])), artifact.history.best_epoch
        run.add_table("compared_with_knn", {"mlp": metrics["test_accuracy"], "knn_k3": knn})
        run.note(
            f"On the same {len(data.y_test):,} held-out digits the MLP scores "
            f"{metrics['test_accuracy']:.3f} (best epoch {best_epoch}) and 3-nearest neighbours "
            f"(mnist-knn's model) {knn:.3f}; the MLP's answer costs one small matrix product per "
            f"layer instead of a distance to all {len(data.y_train):,} training images."
        )
        return metrics | {"knn_test_accuracy": knn, "best_epoch": float(best_epoch)}

    def held_out(self, config: MnistMlpTrainConfig, run: TrainingRun) -> HeldOut:
        return held_out_digits(run, config)

    def encode(self, network: Network, batch: Sequence[DigitImage]) -> Inputs:
        return {"pixels": pixel_matrix(batch)}

    def decode(self, network: Network, outputs: np.ndarray) -> list[DigitPrediction]:
        return digit_predictions(np.arange(10), softmax(outputs.astype(np.float64)))
