"""Module 6: k-nearest neighbours on MNIST, with k chosen by stratified cross-validation."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from training.digits import (
    EXAMPLE_DIGIT,
    DigitImage,
    DigitPrediction,
    digit_predictions,
    pixel_matrix,
    split_mnist,
)
from training.plotting import new_figure, plt
from training.run import TrainingRun
from training.sklearn_artifacts import load_estimator, load_meta, save_estimator
from training.spec import Floor, ModelSpec, TrainConfig

Weights = Literal["uniform", "distance"]


class MnistKnnTrainConfig(TrainConfig):
    n_neighbors: tuple[int, ...] = Field(
        (1, 3, 5, 7, 9, 11), min_length=1, description="candidate k, compared by cross-validation"
    )
    weights: tuple[Weights, ...] = Field(
        ("uniform", "distance"),
        min_length=1,
        description="candidate vote weights: one vote per neighbour, or by inverse distance",
    )
    cv_folds: int = Field(5, ge=2, description="stratified folds of the training part")
    test_size: float = Field(0.2, gt=0, lt=1, description="held-out share of the images")
    max_samples: int | None = Field(
        None, ge=100, description="stratified sample of the images to use; None uses all"
    )


@dataclass(frozen=True)
class MnistSplit:
    X_train: np.ndarray  # (n, 784) float32 in [0, 1]
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    config: MnistKnnTrainConfig


@dataclass(frozen=True)
class DigitKnn:
    classifier: Any  # sklearn KNeighborsClassifier, fitted on the training part
    candidates: list[dict[str, Any]]  # the cross-validated grid: k, weights, CV accuracy
    best_index: int

    @property
    def chosen(self) -> dict[str, Any]:
        return self.candidates[self.best_index]


class MnistKnn(ModelSpec[DigitImage, DigitPrediction, MnistKnnTrainConfig, MnistSplit, DigitKnn]):
    name = "mnist-knn"
    module = 6
    title = "k-nearest neighbours on MNIST"
    kind = "classifier"
    flavor = "skops"
    input_schema = DigitImage
    output_schema = DigitPrediction
    config_schema = MnistKnnTrainConfig
    example_input = DigitImage(pixels=EXAMPLE_DIGIT)
    floors = (Floor("test_accuracy", minimum=0.92),)
    selection_metric = "test_accuracy"

    def smoke_config(self) -> MnistKnnTrainConfig:
        return MnistKnnTrainConfig(
            n_neighbors=(1, 3), weights=("distance",), cv_folds=2, max_samples=600
        )

    def load_data(self, config: MnistKnnTrainConfig, run: TrainingRun) -> MnistSplit:
        X_train, X_test, y_train, y_test = split_mnist(
            run, test_size=config.test_size, max_samples=config.max_samples,
            random_state=config.random_state,
        )  # fmt: skip
        return MnistSplit(X_train, X_test, y_train, y_test, config)

    def fit(self, config: MnistKnnTrainConfig, data: MnistSplit, run: TrainingRun) -> DigitKnn:
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from sklearn.neighbors import KNeighborsClassifier

        run.step(f"choosing k by {config.cv_folds}-fold cross-validation")
        # Brute force: in 784 dimensions trees prune almost nothing, and the artifact then
        # holds only the training images.
        search = GridSearchCV(
            KNeighborsClassifier(algorithm="brute"),
            {"n_neighbors": list(config.n_neighbors), "weights": list(config.weights)},
            cv=StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.random_state),
            scoring="accuracy",
        ).fit(data.X_train, data.y_train)
        results = search.cv_results_
        candidates = [
            {"k": int(params["n_neighbors"]), "weights": str(params["weights"]),
             "cv_accuracy": float(mean), "cv_accuracy_std": float(std)}
            for params, mean, std in zip(
                results["params"], results["mean_test_score"], results["std_test_score"],
                strict=True,
            )
        ]  # fmt: skip
        return DigitKnn(search.best_estimator_, candidates, int(search.best_index_))

    def evaluate(self, artifact: DigitKnn, data: MnistSplit, run: TrainingRun) -> dict[str, float]:
        from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, classification_report

        chosen = artifact.chosen
        predicted = artifact.classifier.predict(data.X_test)
        metrics = {
            "test_accuracy": float(accuracy_score(data.y_test, predicted)),
            "cv_accuracy": chosen["cv_accuracy"],
            "cv_accuracy_std": chosen["cv_accuracy_std"],
            "k": float(chosen["k"]),
            "n_train": float(len(data.y_train)),
            "n_test": float(len(data.y_test)),
        }
        run.add_table("cross_validation", artifact.candidates)
        report = classification_report(data.y_test, predicted, output_dict=True, zero_division=0)
        run.add_table(
            "per_digit",
            {
                str(digit): {
                    key: round(float(value), 4) for key, value in report[str(digit)].items()
                }
                for digit in np.unique(data.y_test)
            },
        )

        self._plot_search(artifact, run)
        figure, axes = new_figure(6.4, 5.6)
        axes.grid(False)
        ConfusionMatrixDisplay.from_predictions(data.y_test, predicted, ax=axes, colorbar=False)
        axes.set_title(f"Held-out confusion matrix (accuracy {metrics['test_accuracy']:.3f})")
        run.add_plot("confusion_matrix", figure)
        self._plot_mistakes(data, predicted, run)

        run.note(
            f"k = {chosen['k']} with {chosen['weights']} weights won "
            f"{data.config.cv_folds}-fold CV on {len(data.y_train):,} training images "
            f"({metrics['cv_accuracy']:.3f} ± {metrics['cv_accuracy_std']:.3f}); on "
            f"{len(data.y_test):,} held-out images it scores {metrics['test_accuracy']:.3f}."
        )
        return metrics

    def _plot_search(self, artifact: DigitKnn, run: TrainingRun) -> None:
        figure, axes = new_figure()
        candidates = artifact.candidates
        for weights in dict.fromkeys(c["weights"] for c in candidates):
            rows = [c for c in candidates if c["weights"] == weights]
            axes.errorbar(
                [c["k"] for c in rows], [c["cv_accuracy"] for c in rows],
                yerr=[c["cv_accuracy_std"] for c in rows],
                marker="o", capsize=3, label=f"{weights} weights",
            )  # fmt: skip
        chosen = artifact.chosen
        axes.scatter([chosen["k"]], [chosen["cv_accuracy"]], s=160, facecolors="none",
                     edgecolors="black", zorder=3, label="chosen")  # fmt: skip
        axes.set(xlabel="k (neighbours)", ylabel="CV accuracy (mean ± std over folds)",
                 title="Choosing k by stratified cross-validation")  # fmt: skip
        axes.set_xticks(sorted({c["k"] for c in candidates}))
        axes.legend()
        run.add_plot("cv_accuracy_vs_k", figure)

    def _plot_mistakes(self, data: MnistSplit, predicted: np.ndarray, run: TrainingRun) -> None:
        wrong = np.flatnonzero(predicted != data.y_test)[:15]
        if len(wrong) == 0:
            return
        figure, grid = plt.subplots(3, 5, figsize=(7.5, 5))
        for axes in grid.ravel():
            axes.axis("off")
        for axes, index in zip(grid.ravel(), wrong, strict=False):
            axes.imshow(data.X_test[index].reshape(28, 28), cmap="gray_r")
            axes.set_title(f"{data.y_test[index]} read as {predicted[index]}", fontsize=9)
        figure.suptitle("Held-out digits the model gets wrong (true label read as prediction)")
        run.add_plot("mistakes", figure)

    def save(self, artifact: DigitKnn) -> dict[str, bytes]:
        meta = {"candidates": artifact.candidates, "best_index": artifact.best_index}
        return save_estimator(artifact.classifier, meta)

    def load(self, files: Mapping[str, bytes]) -> DigitKnn:
        meta = load_meta(files)
        return DigitKnn(load_estimator(files), meta["candidates"], meta["best_index"])

    def predict(self, artifact: DigitKnn, batch: Sequence[DigitImage]) -> list[DigitPrediction]:
        classifier = artifact.classifier
        return digit_predictions(classifier.classes_, classifier.predict_proba(pixel_matrix(batch)))
