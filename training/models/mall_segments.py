"""Module 9: KMeans customer segments of a shopping mall, k chosen by elbow and silhouette.

Customers are clustered on annual income and spending score, standardised so that both
count equally. Every k from `k_min` to `k_max` is fitted on the training customers; the
k with the highest mean silhouette is kept, and the elbow of the inertia curve is
reported beside it as a check. Held-out customers are assigned to the nearest centroid
and their silhouette is the quality metric.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from training.data import Holdout, SplitConfig, holdout, request_records
from training.data.loaders import load_mall_customers
from training.frameworks.numpy import NumpySpec
from training.report.figures import new_figure, subplots
from training.run import TrainingRun
from training.spec import Floor, HeldOut, Schema

# Dataset column → name used here.
COLUMNS = {
    "Gender": "gender",
    "Age": "age",
    "Annual Income (k$)": "annual_income_k_usd",
    "Spending Score (1-100)": "spending_score",
}
FEATURES = ["annual_income_k_usd", "spending_score"]
# A centroid further than this many standard deviations from the mean is "high" or "low".
LEVEL_THRESHOLD_STD = 0.5
MallSplit = Holdout[pd.DataFrame]  # customers' rows; no target, so y is all zeros


class Customer(Schema):
    """A mall customer. Only annual income and spending score determine the segment;
    gender and age describe the customer but do not change the assignment."""

    gender: Literal["Male", "Female"] = Field(description="not used to assign the segment")
    age: int = Field(ge=10, le=100, description="years; not used to assign the segment")
    annual_income_k_usd: float = Field(ge=0, le=500, description="annual income, thousands of USD")
    spending_score: float = Field(
        ge=1, le=100, description="the mall's spending score, 1 (spends least) to 100 (most)"
    )


class CustomerSegment(Schema):
    segment: int = Field(ge=0, description="segment number, ordered by centroid income")
    description: str = Field(description="the segment's centroid relative to all customers")


class MallSegmentsTrainConfig(SplitConfig):
    k_min: int = Field(2, ge=2, description="smallest number of segments tried")
    k_max: int = Field(10, ge=2, le=20, description="largest number of segments tried")
    n_init: int = Field(10, ge=1, description="KMeans restarts per k; the best inertia is kept")
    test_size: float = Field(0.25, gt=0, lt=1, description="held-out share of the customers")

    @model_validator(mode="after")
    def _k_range_is_ordered(self) -> "MallSegmentsTrainConfig":
        if self.k_max < self.k_min:
            raise ValueError("k_max must be at least k_min")
        return self


@dataclass(frozen=True)
class Segmentation:
    """Standardisation, centroids (in standard units) and the k search that chose them."""

    feature_mean: np.ndarray  # (2,): income, spending of the training customers
    feature_scale: np.ndarray  # (2,)
    centroids: np.ndarray  # (k, 2), standardised, ordered by income then spending
    descriptions: np.ndarray  # (k,) unicode
    candidate_k: np.ndarray  # (n,)
    inertia: np.ndarray  # (n,) within-cluster sum of squares on the training customers
    silhouette: np.ndarray  # (n,) mean silhouette on the training customers
    elbow_k: np.ndarray  # (1,)

    def standardise(self, X: np.ndarray) -> np.ndarray:
        return np.asarray((X - self.feature_mean) / self.feature_scale)

    def assign(self, X: np.ndarray) -> np.ndarray:
        """Nearest centroid of each row of raw (income, spending) values."""
        Z = self.standardise(X)
        distances = ((Z[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)
        return np.asarray(distances.argmin(axis=1))

    def centroids_raw(self) -> np.ndarray:
        return np.asarray(self.centroids * self.feature_scale + self.feature_mean)


def points(customers: pd.DataFrame) -> np.ndarray:
    """The clustered (income, spending) values of customers' rows."""
    return customers[FEATURES].to_numpy(dtype=np.float64)


def scaling(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per feature: standardised, income and spending count equally."""
    return X.mean(axis=0), X.std(axis=0)


def held_out_silhouette(Z: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of held-out standardised points under their assigned segments."""
    from sklearn.metrics import silhouette_score

    # A held-out part that falls into one segment has no silhouette: score it 0.
    return float(silhouette_score(Z, labels)) if len(np.unique(labels)) > 1 else 0.0


def describe(centroid: np.ndarray) -> str:
    """'high income, low spending' from a standardised (income, spending) centroid."""
    levels = [
        "high" if value > LEVEL_THRESHOLD_STD else "low" if value < -LEVEL_THRESHOLD_STD
        else "average"
        for value in centroid
    ]  # fmt: skip
    return f"{levels[0]} income, {levels[1]} spending"


def elbow_of(candidate_k: np.ndarray, inertia: np.ndarray) -> int:
    """The k furthest below the chord from the first to the last point (the 'kneedle' rule)."""
    x = (candidate_k - candidate_k[0]) / max(candidate_k[-1] - candidate_k[0], 1)
    span = inertia[0] - inertia[-1]
    y = (inertia - inertia[-1]) / span if span > 0 else np.zeros_like(inertia)
    return int(candidate_k[int(np.argmax(1 - x - y))])


class MallSegments(
    NumpySpec[Customer, CustomerSegment, MallSegmentsTrainConfig, MallSplit, Segmentation]
):
    name, module, kind = "mall-segments", 9, "clustering"
    data_folders = ("mall_customers",)
    title = "KMeans customer segments of a shopping mall"
    example_input = Customer(gender="Female", age=31, annual_income_k_usd=78, spending_score=85)
    floors = (Floor("silhouette", minimum=0.50),)
    selection_metric = "silhouette"

    def smoke_config(self) -> MallSegmentsTrainConfig:
        return MallSegmentsTrainConfig(k_max=6, n_init=2)

    def load_data(self, config: MallSegmentsTrainConfig, run: TrainingRun) -> MallSplit:
        frame = load_mall_customers(run, run.data_path).rename(columns=COLUMNS)
        customers = frame[list(COLUMNS.values())]
        return holdout(customers, np.zeros(len(customers)), config, stratify=False)

    def fit(
        self, config: MallSegmentsTrainConfig, data: MallSplit, run: TrainingRun
    ) -> Segmentation:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        X = points(data.X_train)
        mean, scale = scaling(X)
        Z = (X - mean) / scale
        # k cannot reach the number of customers: silhouette needs a cluster with two members.
        candidate_k = np.arange(config.k_min, min(config.k_max, len(Z) - 1) + 1)
        fits, inertia, silhouette = [], [], []
        for k in candidate_k:
            run.step(f"KMeans with k={k}")
            km = KMeans(n_clusters=int(k), n_init=config.n_init, random_state=config.random_state)
            fits.append(km.fit(Z))
            inertia.append(float(km.inertia_))
            silhouette.append(float(silhouette_score(Z, km.labels_)))
        centroids = fits[int(np.argmax(silhouette))].cluster_centers_
        # Number segments by income, then spending, so retraining keeps the numbering stable.
        centroids = centroids[np.lexsort((centroids[:, 1], centroids[:, 0]))]
        return Segmentation(
            feature_mean=mean,
            feature_scale=scale,
            centroids=centroids,
            descriptions=np.array([describe(c) for c in centroids]),
            candidate_k=candidate_k,
            inertia=np.array(inertia),
            silhouette=np.array(silhouette),
            elbow_k=np.array([elbow_of(candidate_k, np.array(inertia))]),
        )

    def evaluate(
        self, artifact: Segmentation, data: MallSplit, config: MallSegmentsTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:  # fmt: skip
        from sklearn.metrics import silhouette_score

        X_train, X_test = points(data.X_train), points(data.X_test)
        train_labels, test_labels = artifact.assign(X_train), artifact.assign(X_test)
        k, elbow = len(artifact.centroids), int(artifact.elbow_k[0])
        held_out = held_out_silhouette(artifact.standardise(X_test), test_labels)
        train = silhouette_score(artifact.standardise(X_train), train_labels)
        metrics = {
            "silhouette": held_out,
            "train_silhouette": float(train),
            "n_clusters": float(k),
            "elbow_k": float(elbow),
            "train_inertia": float(artifact.inertia[list(artifact.candidate_k).index(k)]),
        }
        everyone = pd.concat([data.X_train, data.X_test])
        profiles = segment_profiles(artifact, everyone, artifact.assign(points(everyone)))
        run.add_table("segments", profiles)
        run.add_table("k_selection", {
            "rule": "highest mean training silhouette; the inertia elbow is shown as a check",
            "candidates": [
                {"k": int(c), "inertia": round(float(i), 3), "silhouette": round(float(s), 4)}
                for c, i, s in zip(artifact.candidate_k, artifact.inertia, artifact.silhouette,
                                   strict=True)
            ],
            "chosen_k": k, "elbow_k": elbow,
        })  # fmt: skip
        _plot_k_selection(artifact, run)
        _plot_segments(artifact, data, train_labels, test_labels, run)
        agreement = (
            "the elbow of the inertia curve is at the same k"
            if elbow == k
            else f"the elbow of the inertia curve is at k={elbow}; the silhouette decides"
        )
        largest = max(profiles, key=lambda p: p["customers"])
        run.note(
            f"{k} segments on income and spending score: k={k} has the highest training silhouette "
            f"({metrics['train_silhouette']:.3f}) and {agreement}. Held-out customers, assigned to "
            f"the nearest centroid, have silhouette {held_out:.3f}. The largest segment is "
            f"'{largest['description']}' ({largest['customers']} of {len(everyone)} customers)."
        )
        return metrics

    def held_out(self, config: MallSegmentsTrainConfig, run: TrainingRun) -> HeldOut:
        split = self.load_data(config, run)  # its rows already carry the request's fields
        # evaluate measures in the version's standard units; fit took them from the training
        # customers, so the same rows give them back without reading the artifact.
        mean, scale = scaling(points(split.X_train))
        Z_test = (points(split.X_test) - mean) / scale

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            segments = np.array([answer["segment"] for answer in answers])
            return {"silhouette": held_out_silhouette(Z_test, segments)}

        return HeldOut(request_records(split.X_test), score)

    def predict(self, artifact: Segmentation, batch: Sequence[Customer]) -> list[CustomerSegment]:
        X = np.array([[c.annual_income_k_usd, c.spending_score] for c in batch], dtype=np.float64)
        descriptions = artifact.descriptions.tolist()
        return [
            CustomerSegment(segment=int(s), description=descriptions[int(s)])
            for s in artifact.assign(X)
        ]


def segment_profiles(
    artifact: Segmentation, customers: pd.DataFrame, labels: np.ndarray
) -> list[dict[str, Any]]:
    """Each segment's size, centroid and who is in it."""
    centroids = artifact.centroids_raw()
    profiles: list[dict[str, Any]] = []
    for segment, description in enumerate(artifact.descriptions.tolist()):
        members = customers[labels == segment]
        count = len(members)
        profiles.append({
            "segment": segment,
            "description": description,
            "customers": count,
            "share": round(count / len(customers), 4),
            "centroid_income_k_usd": round(float(centroids[segment, 0]), 2),
            "centroid_spending_score": round(float(centroids[segment, 1]), 2),
            "mean_age": round(float(members["age"].mean()), 1) if count else None,
            "female_share": (
                round(float((members["gender"] == "Female").mean()), 3) if count else None
            ),
        })  # fmt: skip
    return profiles


def _plot_k_selection(artifact: Segmentation, run: TrainingRun) -> None:
    k, elbow = len(artifact.centroids), int(artifact.elbow_k[0])
    figure, (left, right) = subplots(1, 2, figsize=(11, 4))
    left.plot(artifact.candidate_k, artifact.inertia, marker="o")
    left.axvline(elbow, color="C3", linestyle="--", label=f"elbow k={elbow}")
    left.set(xlabel="k", ylabel="inertia (standardised units²)", title="Elbow: inertia vs k")
    right.plot(artifact.candidate_k, artifact.silhouette, marker="o", color="C1")
    right.axvline(k, color="C3", linestyle="--", label=f"chosen k={k}")
    right.set(xlabel="k", ylabel="mean silhouette (training)", title="Silhouette vs k")
    for axes in (left, right):
        axes.legend()
        axes.grid(alpha=0.3)
    run.add_plot("k_selection", figure)


def _plot_segments(
    artifact: Segmentation, data: MallSplit, train_labels: np.ndarray, test_labels: np.ndarray,
    run: TrainingRun,
) -> None:  # fmt: skip
    figure, axes = new_figure(7.5, 5.5)
    for segment, description in enumerate(artifact.descriptions.tolist()):
        train, test = (
            points(data.X_train[train_labels == segment]),
            points(data.X_test[test_labels == segment]),
        )
        axes.scatter(train[:, 0], train[:, 1], marker="o", color=f"C{segment}", alpha=0.7,
                     label=f"{segment}: {description}")  # fmt: skip
        axes.scatter(test[:, 0], test[:, 1], marker="x", color=f"C{segment}", alpha=0.7)
    centroids = artifact.centroids_raw()
    axes.scatter(centroids[:, 0], centroids[:, 1], marker="*", s=300, color="black",
                 label="centroids")  # fmt: skip
    axes.set(xlabel="annual income (k USD)", ylabel="spending score (1-100)",
             title="Customer segments (o train, x held out)")  # fmt: skip
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    run.add_plot("segments", figure)
