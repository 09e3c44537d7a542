"""Modules 8 and 13: Titanic survival, a tree vs a forest, then engineered features.

Version 1 (module 8) compares one decision tree with a random forest on the raw columns
and publishes the forest. Version 2 (module 13) adds engineered features in the same
scikit-learn pipeline; it takes the `production` alias only if its CV accuracy beats v1.
A request is served without scikit-learn calls: its imputation and one-hot encoding are
replayed in NumPy from the fitted pipeline, and the forest runs as an ONNX graph
(`compiled.onnx`). Versions that stored the whole pipeline as the graph, one input per
feature column, are served by that graph.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, StringConstraints

from training.data import Holdout, SplitConfig, holdout, request_records
from training.data.loaders import load_titanic
from training.frameworks.base import RUNTIME
from training.frameworks.compiled import (
    FLOAT32_RTOL,
    CompiledGraph,
    check_classifier_parity,
    sklearn_matrix_graph,
)
from training.frameworks.replay import ColumnsReplay, replay_columns, with_replay
from training.frameworks.sklearn import SklearnSpec
from training.models._titanic import (
    CATEGORICAL,
    MISSING_TEXT,
    NUMBER_COLUMNS,
    NUMERIC,
    TEXT_COLUMNS,
    Columns,
    FeatureSet,
    features,
    passenger_columns,
)
from training.report.classification import report_classification, report_roc
from training.report.figures import new_figure
from training.report.importance import plot_importance
from training.run import TrainingRun
from training.schemas import NOT_BLANK
from training.spec import Floor, HeldOut, LoadContext, Schema

OUTCOMES = ("died", "survived")  # class 0, class 1
FOREST_INPUT = "input"  # the forest's graph: one (n, n_features) float matrix
REQUEST_COLUMNS = ("pclass", "name", "sex", "age", "sibsp", "parch", "ticket", "fare", "cabin",
                   "embarked")  # fmt: skip


class Passenger(Schema):
    """A passenger in Kaggle's columns (snake case); missing where Kaggle has gaps."""

    pclass: Literal[1, 2, 3] = Field(description="ticket class: 1 = first, 3 = third")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = (
        Field(
            description="as on the manifest: 'Surname, Title. Given'",
            json_schema_extra={"pattern": NOT_BLANK},
        )
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


class TitanicTrainConfig(SplitConfig):
    feature_set: FeatureSet = Field(
        "basic", description="basic (module 8) or engineered (module 13)"
    )
    n_estimators: int = Field(500, ge=1, description="trees in the forest")
    max_depth: int | None = Field(7, ge=1, description="limits each tree; None grows them fully")
    min_samples_leaf: int = Field(2, ge=1)
    tree_max_depth: int = Field(4, ge=1, description="depth of the single tree it is compared with")
    cv_folds: int = Field(5, ge=2)


Passengers = Holdout[pd.DataFrame]
"""The feature columns of the config's feature set, split; y is 1 for survivors."""


@dataclass(frozen=True)
class SurvivalModel:
    estimator: Any  # Pipeline: imputation and one-hot encoding, then the random forest
    feature_set: FeatureSet
    compiled: CompiledGraph | None = field(default=None, metadata=RUNTIME)  # what serves
    # The preprocessing's NumPy replay, rebuilt from `estimator` at load (not stored).
    replay: ColumnsReplay | None = field(default=None, metadata=RUNTIME)


def _pipeline(feature_set: FeatureSet, model: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    categorical = Pipeline([
        ("impute", SimpleImputer(strategy="most_frequent", missing_values=MISSING_TEXT)),
        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ])  # fmt: skip
    preprocess = ColumnTransformer([
        ("numeric", SimpleImputer(strategy="median"), NUMERIC[feature_set]),
        ("categorical", categorical, CATEGORICAL[feature_set]),
    ])  # fmt: skip
    return Pipeline([("preprocess", preprocess), ("model", model)])


class TitanicSurvival(
    SklearnSpec[Passenger, SurvivalPrediction, TitanicTrainConfig, Passengers, SurvivalModel]
):
    name, module, kind = "titanic-survival", 8, "classifier"
    data_folders = ("titanic",)
    title = "Titanic survival: decision tree vs random forest, then feature engineering"
    example_input = Passenger(
        pclass=3, name="Braund, Mr. Owen Harris", sex="male", age=22, sibsp=1, parch=0,
        ticket="A/5 21171", fare=7.25, cabin=None, embarked="S",
    )  # fmt: skip
    # Cross-validation picks nothing here, but its folds are the training part's: the
    # held-out passengers meet the same floor (DESIGN.md section 2).
    floors = (Floor("cv_accuracy", minimum=0.80), Floor("test_accuracy", minimum=0.80))
    engineered_floors = (Floor("cv_accuracy", minimum=0.82), Floor("test_accuracy", minimum=0.82))
    selection_metric = "cv_accuracy"

    def floors_for(self, config: TitanicTrainConfig) -> tuple[Floor, ...]:
        return self.engineered_floors if config.feature_set == "engineered" else self.floors

    def smoke_config(self) -> TitanicTrainConfig:
        return TitanicTrainConfig(n_estimators=10, cv_folds=2)

    def stages_from(self, config: TitanicTrainConfig) -> list[TitanicTrainConfig]:
        return [config, config.model_copy(update={"feature_set": "engineered"})]

    def load_data(self, config: TitanicTrainConfig, run: TrainingRun) -> Passengers:
        frame = load_titanic(run, run.data_path).rename(columns=str.lower)  # schema's names
        columns = {c: frame[c].to_numpy(dtype=np.float64) for c in NUMBER_COLUMNS} | {
            c: frame[c].fillna(MISSING_TEXT).to_numpy(dtype=str) for c in TEXT_COLUMNS
        }
        y = frame["survived"].to_numpy(dtype=np.int64)
        return holdout(pd.DataFrame(features(columns, config.feature_set)), y, config)

    def fit(self, config: TitanicTrainConfig, data: Passengers, run: TrainingRun) -> SurvivalModel:
        from sklearn.ensemble import RandomForestClassifier

        forest = RandomForestClassifier(
            n_estimators=config.n_estimators, max_depth=config.max_depth,
            min_samples_leaf=config.min_samples_leaf, random_state=config.random_state, n_jobs=1,
        )  # fmt: skip
        pipeline = _pipeline(config.feature_set, forest).fit(data.X_train, data.y_train)
        run.step("compiling the forest to ONNX")
        return with_serving_path(SurvivalModel(pipeline, config.feature_set), data.X_test)

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> SurvivalModel:
        return with_replay(super().load(files, context), _preprocess_replay)

    def evaluate(
        self,
        artifact: SurvivalModel,
        data: Passengers,
        config: TitanicTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:
        forest = artifact.estimator
        scores = _tree_vs_forest(run, forest, data, config)
        metrics = report_classification(run, data.y_test, forest.predict(data.X_test), OUTCOMES)
        probability = forest.predict_proba(data.X_test)[:, 1]
        metrics["test_roc_auc"] = report_roc(run, data.y_test, probability, positive="survived")
        plot_importance(
            run, _feature_names(forest), forest.named_steps["model"].feature_importances_,
            xlabel="mean decrease in impurity", title="Random forest feature importances",
        )  # fmt: skip
        tree = scores["decision_tree"]
        metrics |= {
            f"tree_{k}": tree[k] for k in ("train_accuracy", "test_accuracy", "cv_accuracy")
        }
        return scores["random_forest"] | metrics

    def held_out(self, config: TitanicTrainConfig, run: TrainingRun) -> HeldOut:
        from sklearn.metrics import accuracy_score

        frame = load_titanic(run, run.data_path).rename(columns=str.lower)
        passengers = frame[list(REQUEST_COLUMNS)]
        split = holdout(passengers, frame["survived"].to_numpy(dtype=np.int64), config)

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            survived = [answer["survived"] for answer in answers]
            return {"test_accuracy": float(accuracy_score(split.y_test, survived))}

        return HeldOut(request_records(split.X_test), score)

    def predict(
        self, artifact: SurvivalModel, batch: Sequence[Passenger]
    ) -> list[SurvivalPrediction]:
        X = features(passenger_columns(batch), artifact.feature_set)
        if artifact.compiled is not None:
            probabilities = survival_probability(artifact, X)
        else:  # a version published before its pipeline was compiled
            probabilities = artifact.estimator.predict_proba(_estimator_frame(artifact, X))[:, 1]
        return [
            SurvivalPrediction(survived=bool(p >= 0.5), probability=float(p)) for p in probabilities
        ]


def survival_probability(artifact: SurvivalModel, X: Columns) -> np.ndarray:
    """P(survived) from the compiled graph, whose second output is the probabilities
    (float32 sums of 500 trees can overshoot 1 by an ulp).

    The graph holds the forest alone, fed by the replayed preprocessing; or, in versions
    published before, the whole pipeline, one input per column. The pipeline's string
    operators cost ONNX Runtime more than its trees: ~75 of ~130 µs for five passengers.
    """
    graph = artifact.compiled
    if graph is None:
        raise ValueError("the version has no compiled graph")
    if FOREST_INPUT not in graph.inputs:
        outputs = graph.run_columns(X)
    else:
        if artifact.replay is not None:
            matrix = artifact.replay.transform(X)
        else:
            preprocess = artifact.estimator.named_steps["preprocess"]
            matrix = preprocess.transform(_estimator_frame(artifact, X))
        outputs = graph.run({FOREST_INPUT: np.asarray(matrix, dtype=np.float32)})
    return np.clip(outputs[1][:, 1].astype(np.float64), 0.0, 1.0)


def with_serving_path(artifact: SurvivalModel, X: pd.DataFrame) -> SurvivalModel:
    """The artifact with its forest's graph and its preprocessing's replay, refused unless
    they answer as the pipeline on the held-out passengers `X`."""
    pipeline = artifact.estimator
    n_features = len(pipeline.named_steps["preprocess"].get_feature_names_out())
    graph = sklearn_matrix_graph(pipeline.named_steps["model"], n_features)
    served = with_replay(
        dataclasses.replace(artifact, compiled=CompiledGraph(graph, LoadContext())),
        _preprocess_replay,
    )
    expected = pipeline.predict_proba(X)[:, 1]
    actual = survival_probability(served, {name: X[name].to_numpy() for name in X.columns})
    check_classifier_parity("titanic-survival", expected, actual, threshold=0.5, rtol=FLOAT32_RTOL)
    return served


def _preprocess_replay(pipeline: Any) -> ColumnsReplay:
    return replay_columns(pipeline.named_steps["preprocess"])


def _estimator_frame(artifact: SurvivalModel, X: Columns) -> pd.DataFrame:
    """The feature columns as the pipeline reads them. Pipelines fitted before the graph
    existed mark a missing text with NaN, not with MISSING_TEXT."""
    frame = pd.DataFrame(X)
    preprocess = artifact.estimator.named_steps["preprocess"]
    imputer = preprocess.named_transformers_["categorical"].named_steps["impute"]
    if imputer.missing_values != MISSING_TEXT:
        frame = frame.replace(MISSING_TEXT, np.nan)
    return frame


def _feature_names(pipeline: Any) -> list[str]:
    """`numeric__age` → `age`: the columns after imputation and one-hot encoding."""
    return [n.split("__", 1)[1] for n in pipeline.named_steps["preprocess"].get_feature_names_out()]


def _tree_vs_forest(
    run: TrainingRun, forest: Any, data: Passengers, config: TitanicTrainConfig
) -> dict[str, dict[str, float]]:
    """Module 8's lesson: one shallow tree against the forest, on the same folds and split."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier, plot_tree

    tree = DecisionTreeClassifier(max_depth=config.tree_max_depth, random_state=config.random_state)
    tree = _pipeline(config.feature_set, tree).fit(data.X_train, data.y_train)
    folds = StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.random_state)
    scores: dict[str, dict[str, float]] = {}
    for label, pipeline in (("random_forest", forest), ("decision_tree", tree)):
        run.step(f"{config.cv_folds}-fold cross-validation of the {label.replace('_', ' ')}")
        cv = cross_val_score(clone(pipeline), data.X_train, data.y_train, cv=folds)
        scores[label] = {
            "train_accuracy": float(pipeline.score(data.X_train, data.y_train)),
            "test_accuracy": float(pipeline.score(data.X_test, data.y_test)),
            "cv_accuracy": float(cv.mean()),
            "cv_accuracy_std": float(cv.std()),
        }
    run.add_table("tree_vs_forest", scores)
    gap = {k: v["train_accuracy"] - v["test_accuracy"] for k, v in scores.items()}
    run.note(
        f"Features: {config.feature_set}. The forest reaches "
        f"{scores['random_forest']['cv_accuracy']:.3f} CV accuracy against the tree's "
        f"{scores['decision_tree']['cv_accuracy']:.3f}; train-test gaps: "
        f"forest {gap['random_forest']:+.3f}, tree {gap['decision_tree']:+.3f}."
    )

    figure, axes = new_figure(18, 8)
    plot_tree(tree.named_steps["model"], feature_names=_feature_names(tree), filled=True,
              class_names=list(OUTCOMES), rounded=True, fontsize=7, ax=axes)  # fmt: skip
    figure.suptitle(f"Decision tree (depth {config.tree_max_depth})")
    run.add_plot("decision_tree", figure)

    figure, axes = new_figure()
    keys, width = ["train_accuracy", "cv_accuracy", "test_accuracy"], 0.38
    for offset, model in ((-width / 2, "decision_tree"), (width / 2, "random_forest")):
        axes.bar(np.arange(3) + offset, [scores[model][k] for k in keys], width,
                 label=model.replace("_", " "))  # fmt: skip
    axes.set_xticks(np.arange(3), ["train", "cross-validated", "held-out test"])
    axes.set(ylim=(0.6, 1.0), ylabel="accuracy",
             title=f"Decision tree vs random forest ({config.feature_set} features)")  # fmt: skip
    axes.legend()
    run.add_plot("tree_vs_forest", figure)
    return scores
