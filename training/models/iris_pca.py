"""Module 1: PCA from scratch on Iris, by eigendecomposition of the covariance matrix."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import Field

from training.algorithms.pca import Pca, fit_pca
from training.data import Holdout, SplitConfig, holdout, request_records
from training.data.loaders import load_iris
from training.frameworks.numpy import NumpySpec
from training.report.figures import new_figure
from training.run import TrainingRun
from training.spec import Floor, HeldOut, Schema

SPECIES = ("setosa", "versicolor", "virginica")  # class 0, 1, 2
IrisSplit = Holdout[np.ndarray]


class IrisMeasurements(Schema):
    sepal_length_cm: float = Field(gt=0, le=100, description="sepal length in centimetres")
    sepal_width_cm: float = Field(gt=0, le=100, description="sepal width in centimetres")
    petal_length_cm: float = Field(gt=0, le=100, description="petal length in centimetres")
    petal_width_cm: float = Field(gt=0, le=100, description="petal width in centimetres")


FEATURES = list(IrisMeasurements.model_fields)


class IrisProjection(Schema):
    components: list[float] = Field(
        min_length=2, max_length=2, description="coordinates on the first two principal axes"
    )


class IrisPcaTrainConfig(SplitConfig):
    n_components: int = Field(2, ge=2, le=4, description="principal axes kept")
    test_size: float = Field(0.3, gt=0, lt=1, description="held-out share of the flowers")


class IrisPca(NumpySpec[IrisMeasurements, IrisProjection, IrisPcaTrainConfig, IrisSplit, Pca]):
    name, module, kind = "iris-pca", 1, "embedding"
    title = "PCA from scratch on Iris"
    example_input = IrisMeasurements(
        sepal_length_cm=5.1, sepal_width_cm=3.5, petal_length_cm=1.4, petal_width_cm=0.2
    )
    floors = (
        Floor("explained_variance_2d", minimum=0.95),
        Floor("max_abs_diff_vs_sklearn", maximum=1e-6),
    )

    def load_data(self, config: IrisPcaTrainConfig, run: TrainingRun) -> IrisSplit:
        X, y, _ = load_iris(run)
        return holdout(X, y, config)

    def fit(self, config: IrisPcaTrainConfig, data: IrisSplit, run: TrainingRun) -> Pca:
        return fit_pca(data.X_train, config.n_components)

    def evaluate(
        self, artifact: Pca, data: IrisSplit, config: IrisPcaTrainConfig, run: TrainingRun
    ) -> dict[str, float]:
        diff = diff_vs_sklearn(artifact.components, data.X_train)
        held_out_ratio = float(artifact.cumulative_variance_ratio(data.X_test)[1])
        self._plot(artifact, data, run)
        run.add_table(
            "components",
            {"features": FEATURES, "loadings": artifact.components.round(6).tolist(),
             "explained_variance_ratio_train": artifact.explained_variance_ratio.round(6).tolist()},
        )  # fmt: skip
        run.note(
            f"The first two axes keep {held_out_ratio:.1%} of the held-out flowers' variance; "
            f"the eigendecomposition matches scikit-learn's PCA to {diff:.1e} (up to sign)."
        )
        return {
            "explained_variance_2d": held_out_ratio,
            "train_explained_variance_2d": float(artifact.explained_variance_ratio[:2].sum()),
            "max_abs_diff_vs_sklearn": diff,
        }

    def held_out(self, config: IrisPcaTrainConfig, run: TrainingRun) -> HeldOut:
        import pandas as pd

        X, y, _ = load_iris(run)
        flowers = pd.DataFrame(X, columns=FEATURES)
        split = holdout(flowers, y, config)  # the rows `load_data` held out
        X_train, X_test = split.X_train.to_numpy(), split.X_test.to_numpy()
        centred = X_test - X_train.mean(axis=0)  # around the training mean, as fit_pca centres

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            projected = np.array([answer["components"] for answer in answers])
            # The answers are `centred @ components.T` for the first two axes: least squares
            # on the held-out rows (4 features, full rank) gives back the axes served.
            served, *_ = np.linalg.lstsq(centred, projected, rcond=None)
            return {
                "explained_variance_2d": float((projected**2).sum() / (centred**2).sum()),
                "max_abs_diff_vs_sklearn": diff_vs_sklearn(served.T, X_train),
            }

        return HeldOut(request_records(split.X_test), score)

    def _plot(self, artifact: Pca, data: IrisSplit, run: TrainingRun) -> None:
        figure, axes = new_figure()
        for code, species in enumerate(SPECIES):
            for X, y, marker, part in ((data.X_train, data.y_train, "o", "train"),
                                       (data.X_test, data.y_test, "x", "test")):  # fmt: skip
                points = artifact.transform(X[y == code])
                axes.scatter(points[:, 0], points[:, 1], marker=marker, alpha=0.75,
                             color=f"C{code}", label=f"{species} ({part})")  # fmt: skip
        axes.set(xlabel="PC1", ylabel="PC2", title="Iris on its first two principal axes")
        axes.legend(fontsize=7)
        run.add_plot("pca_scatter", figure)

        figure, axes = new_figure(5, 3.5)
        ratios = artifact.explained_variance_ratio
        axes.bar([f"PC{i + 1}" for i in range(len(ratios))], ratios)
        axes.set(ylabel="explained variance ratio", title="Variance per principal axis (train)")
        run.add_plot("explained_variance", figure)

    def predict(self, artifact: Pca, batch: Sequence[IrisMeasurements]) -> list[IrisProjection]:
        X = np.array([[getattr(flower, name) for name in FEATURES] for flower in batch])
        return [IrisProjection(components=row[:2].tolist()) for row in artifact.transform(X)]


def diff_vs_sklearn(components: np.ndarray, X_train: np.ndarray) -> float:
    """Largest difference of `components`' loadings from scikit-learn's PCA of `X_train`."""
    from sklearn.decomposition import PCA

    reference = PCA(n_components=len(components)).fit(X_train).components_
    # Eigenvectors are defined up to sign: align each reference axis before comparing.
    signs = np.sign((reference * components).sum(axis=1))
    return float(np.abs(reference * signs[:, None] - components).max())
