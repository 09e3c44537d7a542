"""Module 1: PCA from scratch on Iris, by eigendecomposition of the covariance matrix."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from model_registry.flavors import dump_npz, load_npz
from training.datasets import load_iris
from training.plotting import new_figure
from training.run import TrainingRun
from training.spec import Floor, ModelSpec, Schema, TrainConfig


class IrisMeasurements(Schema):
    sepal_length_cm: float = Field(gt=0, le=100, description="sepal length in centimetres")
    sepal_width_cm: float = Field(gt=0, le=100, description="sepal width in centimetres")
    petal_length_cm: float = Field(gt=0, le=100, description="petal length in centimetres")
    petal_width_cm: float = Field(gt=0, le=100, description="petal width in centimetres")


class IrisProjection(Schema):
    components: list[float] = Field(
        min_length=2, max_length=2, description="coordinates on the first two principal axes"
    )


class IrisPcaTrainConfig(TrainConfig):
    n_components: int = Field(2, ge=2, le=4, description="principal axes kept")
    test_size: float = Field(0.3, gt=0, lt=1, description="held-out share of the flowers")


@dataclass(frozen=True)
class Pca:
    """A fitted PCA: project with `(x - mean) @ components.T`."""

    mean: np.ndarray  # (n_features,)
    components: np.ndarray  # (n_components, n_features), unit rows, by decreasing variance
    explained_variance: np.ndarray  # (n_components,)
    explained_variance_ratio: np.ndarray  # (n_components,)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray((X - self.mean) @ self.components.T)


def fit_pca(X: np.ndarray, n_components: int) -> Pca:
    """PCA of `X` (n_samples, n_features) from the eigenvectors of its covariance matrix."""
    mean = X.mean(axis=0)
    centred = X - mean
    covariance = centred.T @ centred / (len(X) - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending, symmetric solver
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    components = eigenvectors[:, :n_components].T
    # Fix each axis's sign (largest loading positive) so retraining gives the same axes.
    signs = np.sign(components[np.arange(n_components), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    return Pca(
        mean=mean,
        components=components,
        explained_variance=eigenvalues[:n_components],
        explained_variance_ratio=eigenvalues[:n_components] / eigenvalues.sum(),
    )


@dataclass(frozen=True)
class IrisSplit:
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    species: list[str]


class IrisPca(ModelSpec[IrisMeasurements, IrisProjection, IrisPcaTrainConfig, IrisSplit, Pca]):
    name = "iris-pca"
    module = 1
    title = "PCA from scratch on Iris"
    kind = "embedding"
    flavor = "numpy"
    input_schema = IrisMeasurements
    output_schema = IrisProjection
    config_schema = IrisPcaTrainConfig
    example_input = IrisMeasurements(
        sepal_length_cm=5.1, sepal_width_cm=3.5, petal_length_cm=1.4, petal_width_cm=0.2
    )
    floors = (
        Floor("explained_variance_2d", minimum=0.95),
        Floor("max_abs_diff_vs_sklearn", maximum=1e-6),
    )

    def load_data(self, config: IrisPcaTrainConfig, run: TrainingRun) -> IrisSplit:
        from sklearn.model_selection import train_test_split

        X, y, species = load_iris(run)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=config.test_size, stratify=y, random_state=config.random_state
        )
        return IrisSplit(X_train, X_test, y_train, y_test, species)

    def fit(self, config: IrisPcaTrainConfig, data: IrisSplit, run: TrainingRun) -> Pca:
        return fit_pca(data.X_train, config.n_components)

    def evaluate(self, artifact: Pca, data: IrisSplit, run: TrainingRun) -> dict[str, float]:
        from sklearn.decomposition import PCA

        reference = PCA(n_components=len(artifact.components)).fit(data.X_train)
        # Eigenvectors are defined up to sign: align each reference axis before comparing.
        signs = np.sign((reference.components_ * artifact.components).sum(axis=1))
        diff = np.abs(reference.components_ * signs[:, None] - artifact.components).max()

        # Held-out explained variance: share of the test set's variance (around the
        # training mean) that the two axes capture.
        centred = data.X_test - artifact.mean
        projected = artifact.transform(data.X_test)
        held_out_ratio = float((projected[:, :2] ** 2).sum() / (centred**2).sum())

        self._plot(artifact, data, run)
        run.add_table(
            "components",
            {
                "features": list(IrisMeasurements.model_fields),
                "loadings": artifact.components.round(6).tolist(),
                "explained_variance_ratio_train": artifact.explained_variance_ratio.round(
                    6
                ).tolist(),
            },
        )
        run.note(
            f"The first two axes keep {held_out_ratio:.1%} of the held-out flowers' variance; "
            f"the eigendecomposition matches scikit-learn's PCA to {diff:.1e} (up to sign)."
        )
        return {
            "explained_variance_2d": held_out_ratio,
            "train_explained_variance_2d": float(artifact.explained_variance_ratio[:2].sum()),
            "max_abs_diff_vs_sklearn": float(diff),
        }

    def _plot(self, artifact: Pca, data: IrisSplit, run: TrainingRun) -> None:
        figure, axes = new_figure()
        for code, species in enumerate(data.species):
            for X, y, marker in (
                (data.X_train, data.y_train, "o"),
                (data.X_test, data.y_test, "x"),
            ):
                points = artifact.transform(X[y == code])
                axes.scatter(
                    points[:, 0],
                    points[:, 1],
                    marker=marker,
                    alpha=0.75,
                    color=f"C{code}",
                    label=f"{species} ({'train' if marker == 'o' else 'test'})",
                )
        axes.set(xlabel="PC1", ylabel="PC2", title="Iris on its first two principal axes")
        axes.legend(fontsize=7)
        run.add_plot("pca_scatter", figure)

        figure, axes = new_figure(5, 3.5)
        ratios = artifact.explained_variance_ratio
        axes.bar([f"PC{i + 1}" for i in range(len(ratios))], ratios)
        axes.set(ylabel="explained variance ratio", title="Variance per principal axis (train)")
        run.add_plot("explained_variance", figure)

    def save(self, artifact: Pca) -> dict[str, bytes]:
        return {"pca.npz": dump_npz(artifact.__dict__)}

    def load(self, files: Mapping[str, bytes]) -> Pca:
        return Pca(**load_npz(files["pca.npz"]))

    def predict(self, artifact: Pca, batch: Sequence[IrisMeasurements]) -> list[IrisProjection]:
        X = np.array(
            [
                [m.sepal_length_cm, m.sepal_width_cm, m.petal_length_cm, m.petal_width_cm]
                for m in batch
            ]
        )
        return [IrisProjection(components=row[:2].tolist()) for row in artifact.transform(X)]
