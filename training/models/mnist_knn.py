"""Module 6: k-nearest neighbours on MNIST, with k chosen by stratified cross-validation.

Served by a NumPy replay: one matrix product against the training digits, then the k
nearest by `argpartition`. The product runs on the digits' 8-bit pixels, exactly in
integers, through a one-node ONNX graph that holds them (`compiled.onnx`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field

from training.data import Holdout, SplitConfig
from training.frameworks.base import RUNTIME
from training.frameworks.compiled import (
    FLOAT32_RTOL,
    CompiledGraph,
    check_parity,
    integer_product_graph,
)
from training.frameworks.replay import KnnReplay, eight_bit_codes, replay_knn, with_replay
from training.frameworks.sklearn import SklearnSpec
from training.models._mnist import (
    EXAMPLE_DIGIT,
    DigitImage,
    DigitPrediction,
    digit_predictions,
    held_out_digits,
    pixel_matrix,
    split_mnist,
)
from training.report.classification import report_classification
from training.report.figures import subplots
from training.report.search import Searched, grid_search, report_search
from training.run import TrainingRun
from training.spec import Floor, HeldOut, LoadContext

Weights = Literal["uniform", "distance"]
DIGITS = [str(digit) for digit in range(10)]
MnistSplit = Holdout[np.ndarray]  # (n, 784) float32 in [0, 1]


class MnistKnnTrainConfig(SplitConfig):
    n_neighbors: tuple[int, ...] = Field(
        (1, 3, 5, 7, 9, 11), min_length=1, description="candidate k, compared by cross-validation"
    )
    weights: tuple[Weights, ...] = Field(
        ("uniform", "distance"),
        min_length=1,
        description="candidate vote weights: one vote per neighbour, or by inverse distance",
    )
    cv_folds: int = Field(5, ge=2, description="stratified folds of the training part")


@dataclass(frozen=True)
class KnnModel(Searched):
    """The chosen classifier, the graph of its training pixels, and its replay once loaded."""

    replay: KnnReplay | None = field(default=None, metadata=RUNTIME)  # what serves
    compiled: CompiledGraph | None = field(default=None, metadata=RUNTIME)  # its products


def digit_probabilities(model: KnnModel, X: np.ndarray) -> np.ndarray:
    """P(digit) per row, over the classifier's `classes_`."""
    if model.replay is not None:
        return model.replay.probabilities(X)
    return np.asarray(model.estimator.predict_proba(X), dtype=np.float64)


class MnistKnn(SklearnSpec[DigitImage, DigitPrediction, MnistKnnTrainConfig, MnistSplit, KnnModel]):
    name, module, kind = "mnist-knn", 6, "classifier"
    title = "k-nearest neighbours on MNIST"
    example_input = DigitImage(pixels=EXAMPLE_DIGIT)
    floors = (Floor("test_accuracy", minimum=0.92),)
    selection_metric = "test_accuracy"

    def smoke_config(self) -> MnistKnnTrainConfig:
        return MnistKnnTrainConfig(
            n_neighbors=(1, 3), weights=("distance",), cv_folds=2, max_samples=600
        )

    def load_data(self, config: MnistKnnTrainConfig, run: TrainingRun) -> MnistSplit:
        return split_mnist(run, config)

    def fit(self, config: MnistKnnTrainConfig, data: MnistSplit, run: TrainingRun) -> KnnModel:
        from sklearn.neighbors import KNeighborsClassifier

        # Brute force: in 784 dimensions trees prune almost nothing, and the artifact then
        # holds only the training images.
        searched = grid_search(
            KNeighborsClassifier(algorithm="brute"),
            {"n_neighbors": list(config.n_neighbors), "weights": list(config.weights)},
            data.X_train, data.y_train, folds=config.cv_folds, scoring="accuracy",
            random_state=config.random_state, run=run,
        )  # fmt: skip
        codes = eight_bit_codes(searched.estimator._fit_X)
        compiled = None
        if codes is not None:  # always for MNIST's pixels; other points take the float path
            compiled = CompiledGraph(integer_product_graph(codes), LoadContext())
        model = KnnModel(searched.estimator, searched.search, compiled=compiled)
        model = with_replay(model, replay_knn, compiled)
        # The replay is what serves: it must answer the held-out digits as the classifier.
        expected = searched.estimator.predict_proba(data.X_test)
        actual = digit_probabilities(model, data.X_test)
        check_parity("mnist-knn probabilities", expected, actual, rtol=FLOAT32_RTOL)
        check_parity("mnist-knn digit", expected.argmax(1), actual.argmax(1), rtol=0)
        return model

    def evaluate(
        self, artifact: KnnModel, data: MnistSplit, config: MnistKnnTrainConfig, run: TrainingRun
    ) -> dict[str, float]:
        predicted = artifact.estimator.predict(data.X_test)
        metrics = report_classification(run, data.y_test, predicted, DIGITS)
        chosen = report_search(
            run, artifact.search, x="n_neighbors", score="cv_accuracy", folds=config.cv_folds,
            series="weights", xlabel="k (neighbours)",
        )  # fmt: skip
        metrics |= {
            "cv_accuracy": chosen["cv_accuracy"], "cv_accuracy_std": chosen["cv_accuracy_std"],
            "k": float(chosen["n_neighbors"]),
            "n_train": float(len(data.y_train)), "n_test": float(len(data.y_test)),
        }  # fmt: skip
        self._plot_mistakes(data, predicted, run)
        run.note(
            f"Trained on {len(data.y_train):,} images; on {len(data.y_test):,} held-out images "
            f"it scores {metrics['test_accuracy']:.3f}."
        )
        return metrics

    def held_out(self, config: MnistKnnTrainConfig, run: TrainingRun) -> HeldOut:
        return held_out_digits(run, config)

    def _plot_mistakes(self, data: MnistSplit, predicted: np.ndarray, run: TrainingRun) -> None:
        wrong = np.flatnonzero(predicted != data.y_test)[:15]
        if len(wrong) == 0:
            return
        figure, grid = subplots(3, 5, figsize=(7.5, 5))
        for axes in grid.ravel():
            axes.axis("off")
        for axes, index in zip(grid.ravel(), wrong, strict=False):
            axes.imshow(data.X_test[index].reshape(28, 28), cmap="gray_r")
            axes.set_title(f"{data.y_test[index]} read as {predicted[index]}", fontsize=9)
        figure.suptitle("Held-out digits the model gets wrong (true label read as prediction)")
        run.add_plot("mistakes", figure)

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> KnnModel:
        model = super().load(files, context)
        return with_replay(model, replay_knn, model.compiled)

    def predict(self, artifact: KnnModel, batch: Sequence[DigitImage]) -> list[DigitPrediction]:
        probabilities = digit_probabilities(artifact, pixel_matrix(batch))
        return digit_predictions(artifact.estimator.classes_, probabilities)
