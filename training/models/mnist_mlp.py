"""Module 15: a multilayer perceptron on MNIST, trained with PyTorch, served by ONNX Runtime."""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from training.data.loaders import load_mnist
from training.data.splits import Holdout
from training.frameworks.onnx import Inputs, Network, softmax
from training.frameworks.torch import TorchNetwork, TorchSpec, TorchTrainConfig, split_inputs
from training.models._mnist import EXAMPLE_DIGIT, DigitImage, DigitPrediction, scale_pixels
from training.report.classification import report_classification
from training.report.curves import plot_learning_curves
from training.run import TrainingRun
from training.spec import BatchPolicy, Floor

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
    # A call costs ~50 µs of fixed overhead against ~2 µs per digit: batch what arrives
    # together, but never hold a lone request for long.
    batch_policy = BatchPolicy(max_items=64, max_wait_ms=2)
    selection_metric = "test_accuracy"

    def smoke_config(self) -> MnistMlpTrainConfig:
        return MnistMlpTrainConfig(hidden=(32,), epochs=2, max_samples=600, shift_augment=False)

    def load_data(self, config: MnistMlpTrainConfig, run: TrainingRun) -> Holdout[Inputs]:
        pixels, digits = load_mnist(run, run.data_path)
        # The same seed and test share as mnist-knn: both are scored on the same digits.
        data = split_inputs({"pixels": scale_pixels(pixels)}, digits.astype(np.int64), config)
        if not config.shift_augment:
            return data
        # 3,400 digits are few for 200k weights: the same digits moved one pixel each way
        # teach the network that a stroke's exact position does not matter.
        images = data.X_train["pixels"].reshape(-1, 28, 28)
        shifted = [np.roll(images, step, axis) for axis in (1, 2) for step in (-1, 1)]
        augmented = np.concatenate([images, *shifted]).reshape(-1, 784)
        return replace(data, X_train={"pixels": augmented}, y_train=np.tile(data.y_train, 5))

    def build(self, config: MnistMlpTrainConfig, meta: Mapping[str, Any]) -> "torch.nn.Module":
        from torch import nn

        layers: list[nn.Module] = []
        width = 784
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            width = hidden
        return nn.Sequential(*layers, nn.Linear(width, 10))

    def fit(
        self, config: MnistMlpTrainConfig, data: Holdout[Inputs], run: TrainingRun
    ) -> TorchNetwork:
        return self.network(config, data, run, meta={})

    def evaluate(
        self, artifact: Network, data: Holdout[Inputs], config: MnistMlpTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:  # fmt: skip
        assert isinstance(artifact, TorchNetwork)
        predicted = artifact.run(data.X_test).argmax(axis=1)
        metrics = report_classification(run, data.y_test, predicted)
        plot_learning_curves(run, {"MLP": artifact.history.as_series()})
        knn = self._knn_accuracy(data)
        run.add_table("compared_with_knn", {"mlp": metrics["test_accuracy"], "knn_k3": knn})
        run.note(
            f"On the same {len(data.y_test):,} held-out digits the MLP scores "
            f"{metrics['test_accuracy']:.3f} and 3-nearest neighbours (mnist-knn's model) "
            f"{knn:.3f}; the MLP's answer costs one small matrix product per layer instead of a "
            f"distance to all {len(data.y_train):,} training images. Best epoch: "
            f"{artifact.history.best_epoch}."
        )
        return metrics | {
            "knn_test_accuracy": knn,
            "best_epoch": float(artifact.history.best_epoch),
        }

    @staticmethod
    def _knn_accuracy(data: Holdout[Inputs]) -> float:
        from sklearn.neighbors import KNeighborsClassifier

        knn = KNeighborsClassifier(n_neighbors=3, weights="distance", algorithm="brute")
        knn.fit(data.X_train["pixels"], data.y_train)
        return float((knn.predict(data.X_test["pixels"]) == data.y_test).mean())

    def encode(self, network: Network, batch: Sequence[DigitImage]) -> Inputs:
        return {"pixels": scale_pixels(np.array([image.pixels for image in batch], dtype=np.uint8))}

    def decode(self, network: Network, outputs: np.ndarray) -> list[DigitPrediction]:
        return [
            DigitPrediction(digit=int(p.argmax()), probabilities=p.tolist())
            for p in softmax(outputs.astype(np.float64))
        ]
