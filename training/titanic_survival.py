"""Modules 8 and 13: Titanic survival, a tree vs a forest, then engineered features.

Version 1 (module 8) compares one decision tree with a random forest on the raw columns
and publishes the forest. Version 2 (module 13) adds engineered features in the same
scikit-learn pipeline; it takes the `production` alias only if its CV accuracy beats v1.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, StringConstraints

from training.datasets import load_titanic
from training.plotting import new_figure, plt
from training.run import TrainingRun
from training.sklearn_artifacts import load_estimator, load_meta, save_estimator
from training.spec import Floor, ModelSpec, Profile, Schema, TrainConfig
from training.titanic_features import CATEGORICAL, KAGGLE_COLUMNS, NUMERIC, FeatureSet, features


class Passenger(Schema):
    """A passenger in Kaggle's columns (snake case); missing where Kaggle has gaps."""

    pclass: Literal[1, 2, 3] = Field(description="ticket class: 1 = first, 3 = third")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = (
        Field(description="as on the manifest: 'Surname, Title. Given'")
    )
    sex: Literal["male", "female"]
    age: float | None = Field(None, ge=0, le=120, description="years; fractional under one")
    sibsp: int = Field(0, ge=0, le=20, description="siblings and spouses aboard")
    parch: int = Field(0, ge=0, le=20, description="parents and children aboard")
    ticket: str | None = Field(None, max_length=64)
    fare: float | None = Field(None, ge=0, le=10_000, description="pounds sterling")
    cabin: str | None = Field(None, max_length=64)
    embarked: Literal["C", "Q", "S"] | None = Field(
        None, description="C = Cherbourg, Q = Queenstown, S = Southampton"
    )


class SurvivalPrediction(Schema):
    survived: bool
    probability: float = Field(ge=0, le=1, description="probability of survival")


class TitanicTrainConfig(TrainConfig):
    feature_set: FeatureSet = Field(
        "basic", description="basic (module 8) or engineered (module 13)"
    )
    n_estimators: int = Field(500, ge=1, description="trees in the forest")
    max_depth: int | None = Field(7, ge=1, description="limits each tree; None grows them fully")
    min_samples_leaf: int = Field(2, ge=1)
    tree_max_depth: int = Field(4, ge=1, description="depth of the single tree it is compared with")
    test_size: float = Field(0.2, gt=0, lt=1)
    cv_folds: int = Field(5, ge=2)


@dataclass(frozen=True)
class TitanicSplit:
    train: pd.DataFrame
    test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    config: TitanicTrainConfig


@dataclass(frozen=True)
class SurvivalModel:
    pipeline: Any  # sklearn Pipeline: preprocessing + random forest
    feature_set: FeatureSet


def _pipeline(feature_set: FeatureSet, estimator: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    preprocess = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), NUMERIC[feature_set]),
            ("categorical", categorical, CATEGORICAL[feature_set]),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def _forest(config: TitanicTrainConfig) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=config.n_estimators,
        max_depth=config.max_depth,
        min_samples_leaf=config.min_samples_leaf,
        random_state=config.random_state,
        n_jobs=1,
    )


class TitanicSurvival(
    ModelSpec[Passenger, SurvivalPrediction, TitanicTrainConfig, TitanicSplit, SurvivalModel]
):
    name = "titanic-survival"
    module = 8
    title = "Titanic survival: decision tree vs random forest, then feature engineering"
    kind = "classifier"
    flavor = "skops"
    input_schema = Passenger
    output_schema = SurvivalPrediction
    config_schema = TitanicTrainConfig
    example_input = Passenger(
        pclass=3,
        name="Braund, Mr. Owen Harris",
        sex="male",
        age=22,
        sibsp=1,
        parch=0,
        ticket="A/5 21171",
        fare=7.25,
        cabin=None,
        embarked="S",
    )
    floors = (Floor("cv_accuracy", minimum=0.80),)
    selection_metric = "cv_accuracy"

    def smoke_config(self) -> TitanicTrainConfig:
        return TitanicTrainConfig(n_estimators=10, cv_folds=2)

    def stages(self, profile: Profile) -> list[TitanicTrainConfig]:
        basic = self.config(profile)
        return [basic, basic.model_copy(update={"feature_set": "engineered"})]

    def load_data(self, config: TitanicTrainConfig, run: TrainingRun) -> TitanicSplit:
        from sklearn.model_selection import train_test_split

        frame = load_titanic(run, run.data_path).rename(columns=KAGGLE_COLUMNS)
        y = frame["Survived"].to_numpy(dtype=np.int64)
        train, test, y_train, y_test = train_test_split(
            frame, y, test_size=config.test_size, stratify=y, random_state=config.random_state
        )
        return TitanicSplit(train, test, y_train, y_test, config)

    def fit(
        self, config: TitanicTrainConfig, data: TitanicSplit, run: TrainingRun
    ) -> SurvivalModel:
        pipeline = _pipeline(config.feature_set, _forest(config))
        pipeline.fit(features(data.train, config.feature_set), data.y_train)
        return SurvivalModel(pipeline, config.feature_set)

    def evaluate(
        self, artifact: SurvivalModel, data: TitanicSplit, run: TrainingRun
    ) -> dict[str, float]:
        from sklearn.base import clone
        from sklearn.model_selection import StratifiedKFold, cross_val_score
        from sklearn.tree import DecisionTreeClassifier

        config = data.config
        X_train = features(data.train, config.feature_set)
        X_test = features(data.test, config.feature_set)
        folds = StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.random_state)
        forest = artifact.pipeline
        tree = _pipeline(
            config.feature_set,
            DecisionTreeClassifier(
                max_depth=config.tree_max_depth, random_state=config.random_state
            ),
        )
        tree.fit(X_train, data.y_train)

        scores: dict[str, dict[str, float]] = {}
        for label, pipeline in (("random_forest", forest), ("decision_tree", tree)):
            cv = cross_val_score(
                clone(pipeline), X_train, data.y_train, cv=folds, scoring="accuracy"
            )
            scores[label] = {
                "train_accuracy": float(pipeline.score(X_train, data.y_train)),
                "test_accuracy": float(pipeline.score(X_test, data.y_test)),
                "cv_accuracy": float(cv.mean()),
                "cv_accuracy_std": float(cv.std()),
            }
        run.add_table("tree_vs_forest", scores)
        self._plot(forest, tree, scores, config, run)
        forest_cv, tree_cv = (scores[m]["cv_accuracy"] for m in ("random_forest", "decision_tree"))
        gap = {k: v["train_accuracy"] - v["test_accuracy"] for k, v in scores.items()}
        run.note(
            f"Features: {config.feature_set}. The forest reaches {forest_cv:.3f} CV accuracy "
            f"against the tree's {tree_cv:.3f}; train-test gaps: "
            f"forest {gap['random_forest']:+.3f}, tree {gap['decision_tree']:+.3f}."
        )
        forest_scores = scores["random_forest"]
        return {
            **forest_scores,
            "tree_train_accuracy": scores["decision_tree"]["train_accuracy"],
            "tree_test_accuracy": scores["decision_tree"]["test_accuracy"],
            "tree_cv_accuracy": scores["decision_tree"]["cv_accuracy"],
        }

    def _plot(
        self,
        forest: Any,
        tree: Any,
        scores: dict[str, dict[str, float]],
        config: TitanicTrainConfig,
        run: TrainingRun,
    ) -> None:
        from sklearn.tree import plot_tree

        names = [
            n.split("__", 1)[1] for n in forest.named_steps["preprocess"].get_feature_names_out()
        ]
        importances = forest.named_steps["model"].feature_importances_
        order = np.argsort(importances)
        figure, axes = new_figure(6.4, 0.28 * len(names) + 1.5)
        axes.barh(np.array(names)[order], importances[order])
        axes.set(xlabel="mean decrease in impurity", title="Random forest feature importances")
        run.add_plot("feature_importances", figure)

        figure = plt.figure(figsize=(18, 8))
        plot_tree(
            tree.named_steps["model"],
            feature_names=names,
            class_names=["died", "survived"],
            filled=True,
            rounded=True,
            fontsize=7,
            ax=figure.gca(),
        )
        figure.suptitle(f"Decision tree (depth {config.tree_max_depth})")
        run.add_plot("decision_tree", figure)

        figure, axes = new_figure()
        labels = ["train_accuracy", "cv_accuracy", "test_accuracy"]
        width = 0.38
        for offset, model in ((-width / 2, "decision_tree"), (width / 2, "random_forest")):
            axes.bar(
                np.arange(3) + offset,
                [scores[model][k] for k in labels],
                width,
                label=model.replace("_", " "),
            )
        axes.set_xticks(np.arange(3), ["train", "cross-validated", "held-out test"])
        axes.set(
            ylim=(0.6, 1.0),
            ylabel="accuracy",
            title=f"Decision tree vs random forest ({config.feature_set} features)",
        )
        axes.legend()
        run.add_plot("tree_vs_forest", figure)

    def save(self, artifact: SurvivalModel) -> dict[str, bytes]:
        return save_estimator(artifact.pipeline, {"feature_set": artifact.feature_set})

    def load(self, files: Mapping[str, bytes]) -> SurvivalModel:
        return SurvivalModel(load_estimator(files), load_meta(files)["feature_set"])

    def predict(
        self, artifact: SurvivalModel, batch: Sequence[Passenger]
    ) -> list[SurvivalPrediction]:
        frame = pd.DataFrame([p.model_dump() for p in batch]).astype({"age": float, "fare": float})
        probabilities = artifact.pipeline.predict_proba(features(frame, artifact.feature_set))[:, 1]
        return [
            SurvivalPrediction(survived=bool(p >= 0.5), probability=float(p)) for p in probabilities
        ]
