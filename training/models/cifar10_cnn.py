"""Module 17: a small CNN on CIFAR-10, trained without and with dropout; the dropout one serves."""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import numpy as np
from pydantic import Field

from training.data.image_sets import load_cifar10
from training.data.splits import Holdout
from training.frameworks.onnx import Inputs, Network
from training.frameworks.torch import History, TorchNetwork, TorchSpec, TorchTrainConfig
from training.models._images import (
    EXAMPLE_CIFAR_SHIP,
    Preprocessing,
    held_out_images,
    image_inputs,
    probability_rows,
    small_cnn,
    split_images,
)
from training.report.classification import report_classification
from training.report.curves import plot_learning_curves
from training.run import TrainingRun
from training.schemas import ImageInput
from training.spec import BatchPolicy, Floor, HeldOut, Schema

if TYPE_CHECKING:
    import torch

CifarClass = Literal[
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"
]
CLASSES: tuple[str, ...] = get_args(CifarClass)
Probability = Annotated[float, Field(ge=0, le=1)]
# CIFAR-10's channel statistics (its 50,000 training images): fixed, so nothing is fitted
# on the held-out part, and a request is scaled exactly as the training images were.
PREPROCESSING = Preprocessing(32, 1.0, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))


class CifarImage(ImageInput):
    """A photo of one object; its centred square is shrunk to CIFAR-10's 32x32 pixels."""


class CifarProbabilities(Schema):
    """Probability of each CIFAR-10 class; they sum to 1."""

    airplane: Probability
    automobile: Probability
    bird: Probability
    cat: Probability
    deer: Probability
    dog: Probability
    frog: Probability
    horse: Probability
    ship: Probability
    truck: Probability


class CifarPrediction(Schema):
    label: CifarClass = Field(description="the most probable of CIFAR-10's ten classes")
    probabilities: CifarProbabilities = Field(description="probability of each class, by name")


class Cifar10CnnTrainConfig(TorchTrainConfig):
    widths: tuple[int, int, int] = Field((16, 32, 64), description="channels of the 3 conv blocks")
    dropout: float = Field(0.4, ge=0, lt=1, description="dropout of the published run")
    augment: bool = Field(
        False, description="random 4-pixel shifts and mirror images in training (both runs)"
    )
    validation_size: float = 0.1
    epochs: int = 30  # an upper bound: early stopping on validation loss ends each run
    learning_rate: float = 2e-3
    weight_decay: float = 5e-4
    patience: int = 4


class ComparedNetwork(TorchNetwork):
    """The published network (with dropout) and the run without dropout it is compared with."""

    def __init__(self, published: TorchNetwork, baseline: TorchNetwork) -> None:
        super().__init__(published.module, published.meta, input_names=published.input_names,
                         history=published.history)  # fmt: skip
        self.baseline = baseline


def _gaps(history: History, epoch: int) -> dict[str, float]:
    """Train minus validation accuracy: last epoch, kept (best) epoch, and epoch `epoch`."""
    train, val = history.train_accuracy, history.val_accuracy
    return {
        "epochs": len(train),
        "kept_epoch": history.best_epoch,
        "final_gap": round(train[-1] - val[-1], 4),
        "kept_gap": round(train[history.best_epoch - 1] - val[history.best_epoch - 1], 4),
        f"gap_at_epoch_{epoch}": round(train[epoch - 1] - val[epoch - 1], 4),
    }


class Cifar10Cnn(TorchSpec[CifarImage, CifarPrediction, Cifar10CnnTrainConfig]):
    name, module, kind = "cifar10-cnn", 17, "classifier"
    data_folders = ("cifar10",)
    title = "A small CNN on CIFAR-10, trained without and with dropout (PyTorch, ONNX Runtime)"
    input_names = ("image",)
    example_input = CifarImage(image_base64=EXAMPLE_CIFAR_SHIP)
    floors = (Floor("val_accuracy", minimum=0.55),)
    selection_metric = "val_accuracy"
    batch_policy = BatchPolicy(max_items=64)

    def smoke_config(self) -> Cifar10CnnTrainConfig:
        return Cifar10CnnTrainConfig(widths=(8, 8, 8), epochs=1, max_samples=400)

    def load_data(self, config: Cifar10CnnTrainConfig, run: TrainingRun) -> Holdout[Inputs]:
        files = load_cifar10(run, run.data_path)
        if files.classes != CLASSES:
            raise ValueError(f"CIFAR-10 class folders must be {CLASSES}, found {files.classes}")
        return split_images(files, PREPROCESSING, config)

    def build(self, config: Cifar10CnnTrainConfig, meta: Mapping[str, Any]) -> "torch.nn.Module":
        return small_cnn(config.widths, len(CLASSES), dropout=config.dropout,
                         augment=config.augment)  # fmt: skip

    def fit(
        self, config: Cifar10CnnTrainConfig, data: Holdout[Inputs], run: TrainingRun
    ) -> ComparedNetwork:
        meta = {"classes": list(CLASSES), **PREPROCESSING.as_meta()}
        # Same seed, split and epochs; only the dropout differs.
        baseline = self.network(config.model_copy(update={"dropout": 0.0}), data, run, meta,
                                label="no dropout: ")  # fmt: skip
        published = self.network(config, data, run, meta, label="dropout: ")
        return ComparedNetwork(published, baseline)

    def evaluate(
        self, artifact: Network, data: Holdout[Inputs], config: Cifar10CnnTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:  # fmt: skip
        assert isinstance(artifact, ComparedNetwork)
        metrics = report_classification(
            run, data.y_test, artifact.run(data.X_test).argmax(axis=1), CLASSES
        )
        baseline_accuracy = float(
            (artifact.baseline.run(data.X_test).argmax(axis=1) == data.y_test).mean()
        )
        runs = {"no dropout": artifact.baseline.history, "dropout": artifact.history}
        plot_learning_curves(run, {label: h.as_series() for label, h in runs.items()})
        common = min(len(h.train_accuracy) for h in runs.values())
        gaps = {label: _gaps(history, common) for label, history in runs.items()}
        run.add_table("dropout_comparison", gaps)
        same = f"gap_at_epoch_{common}"
        run.note(
            f"Train minus validation accuracy after {common} epochs: "
            f"{gaps['no dropout'][same]:.3f} without dropout, {gaps['dropout'][same]:.3f} with "
            f"dropout {config.dropout}; at each run's last epoch (early stopping): "
            f"{gaps['no dropout']['final_gap']:.3f} and {gaps['dropout']['final_gap']:.3f}. "
            f"Held-out accuracy: {baseline_accuracy:.3f} without, {metrics['test_accuracy']:.3f} "
            f"with; the dropout network is the one published."
        )
        return metrics | {
            "val_accuracy": metrics["test_accuracy"],
            "no_dropout_test_accuracy": baseline_accuracy,
            "final_gap_no_dropout": gaps["no dropout"]["final_gap"],
            "final_gap_dropout": gaps["dropout"]["final_gap"],
        }

    def held_out(self, config: Cifar10CnnTrainConfig, run: TrainingRun) -> HeldOut:
        # `val_accuracy` is the accuracy on the test part (the validation part only stops
        # training early), so both keys are re-scored on the test part.
        files = load_cifar10(run, run.data_path)
        return held_out_images(files, config, ("test_accuracy", "val_accuracy"))

    def encode(self, network: Network, batch: Sequence[CifarImage]) -> Inputs:
        return image_inputs(network, batch)

    def decode(self, network: Network, outputs: np.ndarray) -> list[CifarPrediction]:
        classes = network.meta["classes"]
        return [
            CifarPrediction(
                label=classes[int(row.argmax())],
                probabilities=CifarProbabilities(**dict(zip(classes, row.tolist(), strict=True))),
            )
            for row in probability_rows(outputs)
        ]
