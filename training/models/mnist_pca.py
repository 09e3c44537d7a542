"""Module 10: MNIST projected to two dimensions by PCA, and how many axes it really needs."""

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from training.algorithms.pca import Pca, fit_pca
from training.data import Holdout, SplitConfig
from training.frameworks.numpy import NumpySpec
from training.models._mnist import EXAMPLE_DIGIT, DigitImage, pixel_matrix, split_mnist
from training.report.figures import new_figure, subplots
from training.run import TrainingRun
from training.spec import Schema

VARIANCE_TARGETS = (0.80, 0.90, 0.95, 0.99)
MnistSplit = Holdout[np.ndarray]  # (n, 784) float64 in [0, 1]


class DigitProjection(Schema):
    components: list[float] = Field(
        min_length=2,
        max_length=2,
        description="coordinates [x, y] on the first two principal axes, in units of "
        "pixel intensity scaled to [0, 1]",
    )


class MnistPcaTrainConfig(SplitConfig):
    curve_components: int = Field(
        200, ge=2, le=784, description="principal axes drawn on the explained-variance curve"
    )


def components_for(cumulative_ratio: np.ndarray, target: float) -> int:
    """The fewest axes whose cumulative explained variance reaches `target`."""
    return int(np.searchsorted(cumulative_ratio, target - 1e-12) + 1)


class MnistPca(NumpySpec[DigitImage, DigitProjection, MnistPcaTrainConfig, MnistSplit, Pca]):
    name, module, kind = "mnist-pca", 10, "embedding"
    title = "PCA of MNIST to two dimensions"
    example_input = DigitImage(pixels=EXAMPLE_DIGIT)

    def smoke_config(self) -> MnistPcaTrainConfig:
        return MnistPcaTrainConfig(max_samples=600, curve_components=50)

    def load_data(self, config: MnistPcaTrainConfig, run: TrainingRun) -> MnistSplit:
        # float64: the covariance of 784 pixels sums thousands of products per entry.
        return split_mnist(run, config, dtype=np.float64)

    def fit(self, config: MnistPcaTrainConfig, data: MnistSplit, run: TrainingRun) -> Pca:
        run.step("eigendecomposition of the 784x784 pixel covariance")
        return fit_pca(data.X_train, n_components=2)

    def evaluate(
        self, artifact: Pca, data: MnistSplit, config: MnistPcaTrainConfig, run: TrainingRun
    ) -> dict[str, float]:
        from sklearn.neighbors import KNeighborsClassifier

        # Every axis, for the curve: how much variance would m axes keep?
        spectrum = fit_pca(data.X_train, n_components=data.X_train.shape[1])
        train_curve = np.cumsum(spectrum.explained_variance_ratio)
        held_out_curve = spectrum.cumulative_variance_ratio(data.X_test)
        needed = {target: components_for(held_out_curve, target) for target in VARIANCE_TARGETS}

        train_2d, test_2d = artifact.transform(data.X_train), artifact.transform(data.X_test)
        knn = KNeighborsClassifier(n_neighbors=10).fit(train_2d, data.y_train)
        found = knn.predict(test_2d) == data.y_test
        digits = np.unique(data.y_test)
        recall = {int(d): float(found[data.y_test == d].mean()) for d in digits}
        clearest = sorted(recall, key=recall.__getitem__, reverse=True)[:2]
        metrics = {
            "explained_variance_2d": float(held_out_curve[1]),
            "train_explained_variance_2d": float(train_curve[1]),
            **{f"components_for_{round(t * 100)}pct": float(n) for t, n in needed.items()},
            "knn_accuracy_2d": float(found.mean()),
        }
        run.add_table("explained_variance", {
            "components": list(range(1, 21)),
            "train_cumulative": train_curve[:20].round(4).tolist(),
            "held_out_cumulative": held_out_curve[:20].round(4).tolist(),
            "components_for_held_out_share": {f"{t:.0%}": n for t, n in needed.items()},
        })  # fmt: skip
        run.add_table("digit_centroids_2d", {
            str(d): test_2d[data.y_test == d].mean(axis=0).round(3).tolist() for d in digits
        })  # fmt: skip
        run.add_table("knn_recall_2d", {str(d): round(r, 4) for d, r in recall.items()})
        _plot_scatter(test_2d, data.y_test, run)
        _plot_curve(train_curve, held_out_curve, needed, config.curve_components, run)
        _plot_axes(artifact, run)
        _plot_reconstructions(spectrum, data.X_test, needed[0.90], run)
        run.note(
            f"Two axes keep {metrics['explained_variance_2d']:.1%} of the held-out images' "
            f"variance. In the plane a 10-neighbour vote finds {metrics['knn_accuracy_2d']:.1%} "
            f"of them (chance: 10%); {clearest[0]}s and {clearest[1]}s stand apart best "
            f"({recall[clearest[0]]:.0%} and {recall[clearest[1]]:.0%} found), the other "
            f"digits overlap. Keeping 90% of the "
            f"variance takes {needed[0.90]} of 784 axes, 95% takes {needed[0.95]}."
        )
        return metrics

    def predict(self, artifact: Pca, batch: Sequence[DigitImage]) -> list[DigitProjection]:
        projected = artifact.transform(pixel_matrix(batch).astype(np.float64))
        return [DigitProjection(components=row.tolist()) for row in projected]


def _plot_scatter(points: np.ndarray, labels: np.ndarray, run: TrainingRun) -> None:
    figure, axes = new_figure(7.5, 6.2)
    for digit in np.unique(labels):
        mine, colour = points[labels == digit], f"C{digit}"  # the default cycle is tab10
        axes.scatter(mine[:, 0], mine[:, 1], s=9, alpha=0.6, color=colour, label=str(digit))
        centre = mine.mean(axis=0)
        axes.text(centre[0], centre[1], str(digit), fontsize=15, weight="bold",
                  ha="center", va="center", color=colour,
                  bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8})  # fmt: skip
    title = f"{len(labels):,} held-out digits on the first two principal axes"
    axes.set(xlabel="PC1", ylabel="PC2", title=title)
    axes.legend(title="digit", markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5))
    run.add_plot("pca_scatter", figure)


def _plot_curve(
    train_curve: np.ndarray, held_out_curve: np.ndarray, needed: dict[float, int],
    curve_components: int, run: TrainingRun,
) -> None:  # fmt: skip
    shown = min(curve_components, len(train_curve))
    axes_count = np.arange(1, shown + 1)
    figure, axes = new_figure(7, 4.5)
    axes.plot(axes_count, train_curve[:shown], label="training images")
    axes.plot(axes_count, held_out_curve[:shown], label="held-out images", linestyle="--")
    # Labels low on the plot, where the curve never is: 90% right of its line, 95% left.
    for target, colour, side, height in ((0.90, "C2", 1, 0.3), (0.95, "C3", -1, 0.2)):
        axes.axhline(target, color=colour, linewidth=0.8, alpha=0.7)
        if needed[target] <= shown:
            axes.axvline(needed[target], color=colour, linewidth=0.8, alpha=0.7)
            axes.annotate(f"{target:.0%} of held-out variance: {needed[target]} axes",
                          (needed[target], height), xytext=(5 * side, 0),
                          textcoords="offset points", color=colour,
                          ha="left" if side > 0 else "right")  # fmt: skip
    axes.set(xlabel="principal axes kept", ylabel="cumulative explained variance",
             ylim=(0, 1.01), xlim=(0, shown + 1),
             title="How many axes MNIST needs (of 784 pixels)")  # fmt: skip
    axes.legend(loc="lower right")
    run.add_plot("explained_variance", figure)


def _plot_axes(artifact: Pca, run: TrainingRun) -> None:
    figure, grid = subplots(1, 3, figsize=(9, 3.4))
    grid[0].imshow(artifact.mean.reshape(28, 28), cmap="gray_r")
    grid[0].set_title("mean digit")
    for axes, component, label in zip(grid[1:], artifact.components, ("PC1", "PC2"), strict=True):
        limit = float(np.abs(component).max())
        axes.imshow(component.reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes.set_title(f"{label} (red +, blue -)")
    for axes in grid:
        axes.axis("off")
    figure.suptitle("The mean digit, and the pixel loadings of the two axes")
    run.add_plot("principal_axes", figure)


def _plot_reconstructions(spectrum: Pca, X: np.ndarray, for_90pct: int, run: TrainingRun) -> None:
    kept = sorted({2, 10, 50, for_90pct})
    samples = X[:6]
    figure, grid = subplots(len(samples), len(kept) + 1, figsize=(1.4 * (len(kept) + 1), 8.4))
    for row, image in zip(grid, samples, strict=True):
        row[0].imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        scores = spectrum.transform(image[None, :])[0]
        for axes, m in zip(row[1:], kept, strict=True):
            rebuilt = spectrum.mean + scores[:m] @ spectrum.components[:m]
            axes.imshow(rebuilt.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
    for axes, title in zip(grid[0], ["original", *[f"{m} axes" for m in kept]], strict=True):
        axes.set_title(title, fontsize=9)
    for axes in grid.ravel():
        axes.axis("off")
    figure.suptitle("Held-out digits rebuilt from their first principal components")
    run.add_plot("reconstructions", figure)
