"""Module 12: which classifier reads review sentiment best? Compared by stratified k-fold CV.

Three TF-IDF pipelines (logistic regression, multinomial naive Bayes, random forest) are
cross-validated on the training part on accuracy, ROC-AUC and F1. The one with the best
mean CV accuracy is refit on the whole training part, checked once on the held-out
sentences and published.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from training.datasets import load_rt_polarity
from training.fields import Text
from training.plotting import new_figure, plt
from training.run import TrainingRun
from training.sklearn_artifacts import load_meta
from training.spec import Floor, ModelSpec, Schema, TrainConfig
from training.text_artifacts import load_text_pipeline, save_text_pipeline

Candidate = Literal["logistic_regression", "naive_bayes", "random_forest"]
CV_METRICS = ("accuracy", "roc_auc", "f1")  # f1 of the positive class


class MovieReview(Schema):
    text: Text


class ReviewPolarity(Schema):
    label: Literal["positive", "negative"] = Field(description="the review's polarity")
    probability: float = Field(
        ge=0, le=1, description="probability that the review is positive (not of the label)"
    )


class ReviewSentimentTrainConfig(TrainConfig):
    candidates: tuple[Candidate, ...] = Field(
        ("logistic_regression", "naive_bayes", "random_forest"),
        min_length=1,
        description="the classifiers compared, each after its own TF-IDF step",
    )
    cv_folds: int = Field(5, ge=2, description="stratified folds of the training part")
    test_size: float = Field(0.2, gt=0, lt=1, description="held-out share of the sentences")
    logistic_c: float = Field(10.0, gt=0, description="inverse regularisation strength")
    naive_bayes_alpha: float = Field(0.5, gt=0, description="additive (Lidstone) smoothing")
    forest_n_estimators: int = Field(200, ge=1, description="trees in the random forest")
    max_samples: int | None = Field(
        None, ge=100, description="stratified sample of the sentences to use; None uses all"
    )


@dataclass(frozen=True)
class ReviewSplit:
    text_train: np.ndarray  # of str
    text_test: np.ndarray
    y_train: np.ndarray  # 1 = positive, 0 = negative
    y_test: np.ndarray
    config: ReviewSentimentTrainConfig


@dataclass(frozen=True)
class SentimentModel:
    pipeline: Any  # the winning sklearn Pipeline, refit on the whole training part
    winner: str
    cv_scores: dict[str, dict[str, float]]  # candidate → mean and std of each CV metric


def candidate_pipeline(name: Candidate, config: ReviewSentimentTrainConfig) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import Pipeline

    # Word bigrams catch short negations ("not funny"); sublinear tf damps repeated words.
    bigrams = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    if name == "logistic_regression":
        model = LogisticRegression(C=config.logistic_c, max_iter=1000)
        return Pipeline([("tfidf", bigrams), ("model", model)])
    if name == "naive_bayes":
        return Pipeline(
            [("tfidf", bigrams), ("model", MultinomialNB(alpha=config.naive_bayes_alpha))]
        )
    # A forest samples sqrt(n_features) columns per split: on 100,000 rare bigrams almost
    # every split would see noise, so it gets words seen at least twice.
    forest = RandomForestClassifier(
        n_estimators=config.forest_n_estimators, max_features="sqrt", n_jobs=1,
        random_state=config.random_state,
    )  # fmt: skip
    return Pipeline([("tfidf", TfidfVectorizer(min_df=2, sublinear_tf=True)), ("model", forest)])


class ReviewSentiment(
    ModelSpec[MovieReview, ReviewPolarity, ReviewSentimentTrainConfig, ReviewSplit, SentimentModel]
):
    name = "review-sentiment"
    module = 12
    title = "Review sentiment: classifiers compared by k-fold cross-validation"
    kind = "classifier"
    flavor = "skops"
    input_schema = MovieReview
    output_schema = ReviewPolarity
    config_schema = ReviewSentimentTrainConfig
    example_input = MovieReview(
        text="a gripping, beautifully acted drama that stays with you long after the credits roll."
    )
    floors = (Floor("cv_accuracy", minimum=0.76),)
    selection_metric = "cv_accuracy"

    def smoke_config(self) -> ReviewSentimentTrainConfig:
        return ReviewSentimentTrainConfig(cv_folds=2, forest_n_estimators=10, max_samples=600)

    def load_data(self, config: ReviewSentimentTrainConfig, run: TrainingRun) -> ReviewSplit:
        from sklearn.model_selection import train_test_split

        frame = load_rt_polarity(run, run.data_path)
        text = frame["text"].to_numpy(dtype=object)
        y = (frame["label"] == "positive").to_numpy(dtype=np.int64)
        if config.max_samples is not None and config.max_samples < len(y):
            text, _, y, _ = train_test_split(
                text, y, train_size=config.max_samples, stratify=y, random_state=config.random_state
            )
        text_train, text_test, y_train, y_test = train_test_split(
            text, y, test_size=config.test_size, stratify=y, random_state=config.random_state
        )
        return ReviewSplit(text_train, text_test, y_train, y_test, config)

    def fit(
        self, config: ReviewSentimentTrainConfig, data: ReviewSplit, run: TrainingRun
    ) -> SentimentModel:
        from sklearn.model_selection import StratifiedKFold, cross_validate

        # One set of folds for every candidate, so they are compared on the same splits.
        folds = StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.random_state)
        cv_scores: dict[str, dict[str, float]] = {}
        for name in config.candidates:
            run.step(f"{config.cv_folds}-fold cross-validation of {name.replace('_', ' ')}")
            result = cross_validate(
                candidate_pipeline(name, config), data.text_train, data.y_train, cv=folds,
                scoring=list(CV_METRICS),
            )  # fmt: skip
            cv_scores[name] = {"fit_time_s": float(result["fit_time"].mean())}
            for metric in CV_METRICS:
                cv_scores[name][f"cv_{metric}"] = float(result[f"test_{metric}"].mean())
                cv_scores[name][f"cv_{metric}_std"] = float(result[f"test_{metric}"].std())
        winner = max(config.candidates, key=lambda name: cv_scores[name]["cv_accuracy"])
        run.step(f"refitting {winner.replace('_', ' ')} on the training part")
        pipeline = candidate_pipeline(winner, config).fit(data.text_train, data.y_train)
        return SentimentModel(pipeline, winner, cv_scores)

    def evaluate(
        self, artifact: SentimentModel, data: ReviewSplit, run: TrainingRun
    ) -> dict[str, float]:
        from sklearn.metrics import (
            ConfusionMatrixDisplay,
            RocCurveDisplay,
            accuracy_score,
            f1_score,
            roc_auc_score,
        )

        probability = artifact.pipeline.predict_proba(data.text_test)[:, 1]
        predicted = (probability > 0.5).astype(np.int64)
        winner = artifact.cv_scores[artifact.winner]
        metrics = {
            **{key: value for key, value in winner.items() if key.startswith("cv_")},
            "test_accuracy": float(accuracy_score(data.y_test, predicted)),
            "test_roc_auc": float(roc_auc_score(data.y_test, probability)),
            "test_f1": float(f1_score(data.y_test, predicted)),
            **{f"cv_accuracy_{name}": s["cv_accuracy"] for name, s in artifact.cv_scores.items()},
        }
        run.add_table(
            "cv_scores",
            {
                name: {
                    **{m: f"{s[f'cv_{m}']:.4f} ± {s[f'cv_{m}_std']:.4f}" for m in CV_METRICS},
                    "fit_time_s": round(s["fit_time_s"], 2),
                    "chosen": name == artifact.winner,
                }
                for name, s in artifact.cv_scores.items()
            },
        )
        run.add_table(
            "winner_held_out",
            {"model": artifact.winner,
             **{k: round(v, 4) for k, v in metrics.items() if k.startswith("test_")}},
        )  # fmt: skip

        self._plot_comparison(artifact, data.config, run)
        figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
        ConfusionMatrixDisplay.from_predictions(
            data.y_test, predicted, labels=[0, 1], display_labels=["negative", "positive"],
            ax=left, colorbar=False,
        )  # fmt: skip
        left.set_title(f"Confusion matrix (accuracy {metrics['test_accuracy']:.3f})")
        RocCurveDisplay.from_predictions(
            data.y_test, probability, ax=right, name=artifact.winner.replace("_", " "),
            plot_chance_level=True,
        )  # fmt: skip
        right.set_title(f"ROC curve (AUC {metrics['test_roc_auc']:.3f})")
        right.grid(alpha=0.3)
        figure.suptitle(f"The chosen model on {len(data.y_test):,} held-out sentences")
        figure.tight_layout()
        run.add_plot("held_out", figure)

        ranking = sorted(artifact.cv_scores, key=lambda n: -artifact.cv_scores[n]["cv_accuracy"])
        run.note(
            f"By mean {data.config.cv_folds}-fold CV accuracy on {len(data.y_train):,} training "
            "sentences: "
            + ", ".join(
                f"{n.replace('_', ' ')} {artifact.cv_scores[n]['cv_accuracy']:.3f}" for n in ranking
            )
            + f". The winner, {artifact.winner.replace('_', ' ')}, scores "
            f"{metrics['test_accuracy']:.3f} accuracy and {metrics['test_roc_auc']:.3f} ROC-AUC "
            f"on {len(data.y_test):,} held-out sentences."
        )
        return metrics

    def _plot_comparison(
        self, artifact: SentimentModel, config: ReviewSentimentTrainConfig, run: TrainingRun
    ) -> None:
        names = list(artifact.cv_scores)
        width = 0.8 / len(names)
        figure, axes = new_figure(7.5, 4.5)
        for i, name in enumerate(names):
            scores = artifact.cv_scores[name]
            label = name.replace("_", " ") + (" (chosen)" if name == artifact.winner else "")
            axes.bar(
                np.arange(len(CV_METRICS)) + (i - (len(names) - 1) / 2) * width,
                [scores[f"cv_{m}"] for m in CV_METRICS], width,
                yerr=[scores[f"cv_{m}_std"] for m in CV_METRICS], capsize=3, label=label,
            )  # fmt: skip
        axes.set_xticks(np.arange(len(CV_METRICS)), ["accuracy", "ROC-AUC", "F1 (positive)"])
        axes.set(ylim=(0.5, 1.0), ylabel=f"mean ± std over {config.cv_folds} folds",
                 title="Classifiers compared by stratified cross-validation")  # fmt: skip
        axes.legend(loc="upper left")
        run.add_plot("cv_comparison", figure)

    def save(self, artifact: SentimentModel) -> dict[str, bytes]:
        meta = {"winner": artifact.winner, "cv_scores": artifact.cv_scores}
        return save_text_pipeline(artifact.pipeline, meta)

    def load(self, files: Mapping[str, bytes]) -> SentimentModel:
        meta = load_meta(files)
        return SentimentModel(load_text_pipeline(files), meta["winner"], meta["cv_scores"])

    def predict(
        self, artifact: SentimentModel, batch: Sequence[MovieReview]
    ) -> list[ReviewPolarity]:
        probability = artifact.pipeline.predict_proba([review.text for review in batch])[:, 1]
        probability = np.clip(probability, 0.0, 1.0)  # normalising can overshoot 1 by an ulp
        return [
            ReviewPolarity(label="positive" if p > 0.5 else "negative", probability=float(p))
            for p in probability
        ]
