"""Module 12: which classifier reads review sentiment best? Compared by stratified k-fold CV.

Three TF-IDF pipelines (logistic regression, multinomial naive Bayes, random forest) are
cross-validated on the training part on accuracy, ROC-AUC and F1. The one with the best
mean CV accuracy is refit on the whole training part, checked once on the held-out
sentences and published. A linear winner is served by a NumPy replay of its pipeline.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field

from training.data import Holdout, SplitConfig, holdout
from training.data.loaders import load_rt_polarity
from training.frameworks.base import RUNTIME
from training.frameworks.compiled import FLOAT64_RTOL, check_classifier_parity
from training.frameworks.replay import TextLinearReplay, replay_text_model, with_replay
from training.frameworks.sklearn import SklearnSpec
from training.report.classification import report_classification, report_roc
from training.report.figures import new_figure
from training.run import TrainingRun
from training.schemas import Text
from training.spec import Floor, HeldOut, LoadContext, Schema

LABELS = ("negative", "positive")  # class 0, class 1
Candidate = Literal["logistic_regression", "naive_bayes", "random_forest"]
CV_METRICS = ("accuracy", "roc_auc", "f1")  # f1 of the positive class


class MovieReview(Schema):
    text: Text


class ReviewPolarity(Schema):
    label: Literal["positive", "negative"] = Field(description="the review's polarity")
    probability: float = Field(
        ge=0, le=1, description="probability that the review is positive (not of the label)"
    )


class ReviewSentimentTrainConfig(SplitConfig):
    candidates: tuple[Candidate, ...] = Field(
        ("logistic_regression", "naive_bayes", "random_forest"),
        min_length=1,
        description="the classifiers compared, each after its own TF-IDF step",
    )
    cv_folds: int = Field(5, ge=2, description="stratified folds of the training part")
    logistic_c: float = Field(10.0, gt=0, description="inverse regularisation strength")
    naive_bayes_alpha: float = Field(0.5, gt=0, description="additive (Lidstone) smoothing")
    forest_n_estimators: int = Field(200, ge=1, description="trees in the random forest")


Sentences = Holdout[Any]
"""Texts (object arrays) split with their labels, 1 = positive."""


@dataclass(frozen=True)
class SentimentModel:
    estimator: Any  # the winning Pipeline, TF-IDF then classifier, refit on the training part
    winner: Candidate
    cv_scores: dict[str, dict[str, float]]  # candidate → mean and std of each CV metric
    replay: TextLinearReplay | None = field(default=None, metadata=RUNTIME)  # what serves


def positive_probability(model: SentimentModel, texts: Sequence[str]) -> np.ndarray:
    if model.replay is not None:
        return model.replay.probabilities(texts)[:, 1]
    return np.asarray(model.estimator.predict_proba(texts)[:, 1], dtype=np.float64)


def candidate_pipeline(name: Candidate, config: ReviewSentimentTrainConfig) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import Pipeline

    # Word bigrams catch short negations ("not funny"); sublinear tf damps repeated words.
    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    model: Any
    if name == "logistic_regression":
        model = LogisticRegression(C=config.logistic_c, max_iter=1000)
    elif name == "naive_bayes":
        model = MultinomialNB(alpha=config.naive_bayes_alpha)
    else:
        # A forest samples sqrt(n_features) columns per split: on 100,000 rare bigrams almost
        # every split would see noise, so it gets words seen at least twice.
        tfidf = TfidfVectorizer(min_df=2, sublinear_tf=True)
        model = RandomForestClassifier(
            n_estimators=config.forest_n_estimators, max_features="sqrt", n_jobs=1,
            random_state=config.random_state,
        )  # fmt: skip
    return Pipeline([("tfidf", tfidf), ("model", model)])


class ReviewSentiment(
    SklearnSpec[MovieReview, ReviewPolarity, ReviewSentimentTrainConfig, Sentences, SentimentModel]
):
    name, module, kind = "review-sentiment", 12, "classifier"
    data_folders = ("rt_polarity",)
    title = "Review sentiment: classifiers compared by k-fold cross-validation"
    example_input = MovieReview(
        text="a gripping, beautifully acted drama that stays with you long after the credits roll."
    )
    # The CV score chose the winner, so the held-out sentences must meet the floor too.
    floors = (Floor("cv_accuracy", minimum=0.76), Floor("test_accuracy", minimum=0.76))
    selection_metric = "cv_accuracy"
    # The analyzer splits text in Python: a request's characters bound its CPU.
    max_work, work_unit = 1_000_000, "characters"

    def work(self, instance: MovieReview) -> int:
        return len(instance.text)

    def smoke_config(self) -> ReviewSentimentTrainConfig:
        return ReviewSentimentTrainConfig(cv_folds=2, forest_n_estimators=10, max_samples=600)

    def load_data(self, config: ReviewSentimentTrainConfig, run: TrainingRun) -> Sentences:
        frame = load_rt_polarity(run, run.data_path)
        is_positive = (frame["label"] == "positive").to_numpy(dtype=np.int64)
        return holdout(frame["text"].to_numpy(dtype=object), is_positive, config)

    def fit(
        self, config: ReviewSentimentTrainConfig, data: Sentences, run: TrainingRun
    ) -> SentimentModel:
        from sklearn.model_selection import StratifiedKFold, cross_validate

        # One set of folds for every candidate, so they are compared on the same splits.
        folds = StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.random_state)
        cv_scores: dict[str, dict[str, float]] = {}
        for name in config.candidates:
            run.step(f"{config.cv_folds}-fold cross-validation of {name.replace('_', ' ')}")
            result = cross_validate(
                candidate_pipeline(name, config), data.X_train, data.y_train, cv=folds,
                scoring=list(CV_METRICS),
            )  # fmt: skip
            cv_scores[name] = {"fit_time_s": float(result["fit_time"].mean())}
            for metric in CV_METRICS:
                cv_scores[name][f"cv_{metric}"] = float(result[f"test_{metric}"].mean())
                cv_scores[name][f"cv_{metric}_std"] = float(result[f"test_{metric}"].std())
        winner = max(config.candidates, key=lambda name: cv_scores[name]["cv_accuracy"])
        run.step(f"refitting {winner.replace('_', ' ')} on the training part")
        pipeline = candidate_pipeline(winner, config).fit(data.X_train, data.y_train)
        model = with_replay(SentimentModel(pipeline, winner, cv_scores), replay_text_model)
        # The replay is what serves: it must answer the held-out sentences as the pipeline.
        expected = pipeline.predict_proba(data.X_test)[:, 1]
        actual = positive_probability(model, list(data.X_test))
        check_classifier_parity(
            "review-sentiment", expected, actual, threshold=0.5, rtol=FLOAT64_RTOL
        )
        return model

    def evaluate(
        self,
        artifact: SentimentModel,
        data: Sentences,
        config: ReviewSentimentTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:
        from sklearn.metrics import f1_score

        probability = artifact.estimator.predict_proba(data.X_test)[:, 1]
        predicted = (probability > 0.5).astype(np.int64)
        winner = artifact.cv_scores[artifact.winner]
        metrics = {key: value for key, value in winner.items() if key.startswith("cv_")}
        metrics |= report_classification(run, data.y_test, predicted, LABELS)
        metrics["test_roc_auc"] = report_roc(run, data.y_test, probability, positive="positive")
        metrics["test_f1"] = float(f1_score(data.y_test, predicted))
        metrics |= {f"cv_accuracy_{n}": s["cv_accuracy"] for n, s in artifact.cv_scores.items()}
        run.add_table("cv_scores", {
            name: {**{m: f"{s[f'cv_{m}']:.4f} ± {s[f'cv_{m}_std']:.4f}" for m in CV_METRICS},
                   "fit_time_s": round(s["fit_time_s"], 2), "chosen": name == artifact.winner}
            for name, s in artifact.cv_scores.items()
        })  # fmt: skip
        _plot_comparison(run, artifact, config.cv_folds)

        ranking = sorted(artifact.cv_scores, key=lambda n: -artifact.cv_scores[n]["cv_accuracy"])
        run.note(
            f"By mean {config.cv_folds}-fold CV accuracy on {len(data.y_train):,} training "
            "sentences: "
            + ", ".join(
                f"{n.replace('_', ' ')} {artifact.cv_scores[n]['cv_accuracy']:.3f}" for n in ranking
            )
            + f". The winner, {artifact.winner.replace('_', ' ')}, scores "
            f"{metrics['test_accuracy']:.3f} accuracy and {metrics['test_roc_auc']:.3f} ROC-AUC "
            f"on {len(data.y_test):,} held-out sentences."
        )
        return metrics

    def held_out(self, config: ReviewSentimentTrainConfig, run: TrainingRun) -> HeldOut:
        from sklearn.metrics import accuracy_score

        split = self.load_data(config, run)  # the sentences are already what a user posts

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            predicted = np.array([answer["label"] == "positive" for answer in answers], np.int64)
            return {"test_accuracy": float(accuracy_score(split.y_test, predicted))}

        return HeldOut([{"text": text} for text in split.X_test], score)

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> SentimentModel:
        return with_replay(super().load(files, context), replay_text_model)

    def predict(
        self, artifact: SentimentModel, batch: Sequence[MovieReview]
    ) -> list[ReviewPolarity]:
        probability = positive_probability(artifact, [review.text for review in batch])
        probability = np.clip(probability, 0.0, 1.0)  # normalising can overshoot 1 by an ulp
        return [
            ReviewPolarity(label="positive" if p > 0.5 else "negative", probability=float(p))
            for p in probability
        ]


def _plot_comparison(run: TrainingRun, artifact: SentimentModel, folds: int) -> None:
    """Every candidate's CV scores side by side, mean ± std over the folds."""
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
    axes.set(ylim=(0.5, 1.0), ylabel=f"mean ± std over {folds} folds",
             title="Classifiers compared by stratified cross-validation")  # fmt: skip
    axes.legend(loc="upper left")
    run.add_plot("cv_comparison", figure)
