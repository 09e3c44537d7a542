"""Module 7: spam or ham? A linear SVM on TF-IDF word and character n-grams of SMS messages."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from training.datasets import load_sms_spam
from training.fields import Text
from training.plotting import new_figure, plt
from training.run import TrainingRun
from training.sklearn_artifacts import load_meta
from training.spec import Floor, ModelSpec, Schema, TrainConfig
from training.text_artifacts import load_text_pipeline, save_text_pipeline


class SmsMessage(Schema):
    text: Text


class SpamPrediction(Schema):
    label: Literal["spam", "ham"] = Field(description="spam (unsolicited) or ham (legitimate)")
    score: float = Field(
        description="the SVM's signed distance to its decision boundary: positive means spam, "
        "negative ham; the further from 0, the surer the model"
    )


class SpamSvmTrainConfig(TrainConfig):
    c_grid: tuple[float, ...] = Field(
        (0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
        min_length=1,
        description="candidate C (inverse regularisation strength), compared by cross-validation",
    )
    word_ngrams: int = Field(2, ge=1, le=3, description="word n-grams from 1 to this length")
    char_ngrams: tuple[int, int] = Field(
        (2, 5), description="character n-gram lengths (within words), smallest and largest"
    )
    cv_folds: int = Field(5, ge=2, description="stratified folds of the training part")
    test_size: float = Field(0.2, gt=0, lt=1, description="held-out share of the messages")
    max_samples: int | None = Field(
        None, ge=100, description="stratified sample of the messages to use; None uses all"
    )


@dataclass(frozen=True)
class SmsSplit:
    text_train: np.ndarray  # of str
    text_test: np.ndarray
    y_train: np.ndarray  # 1 = spam, 0 = ham
    y_test: np.ndarray
    config: SpamSvmTrainConfig


@dataclass(frozen=True)
class SpamModel:
    pipeline: Any  # sklearn Pipeline: word + character TF-IDF, then LinearSVC (class 1 = spam)
    candidates: list[dict[str, float]]  # the cross-validated grid: C, mean and std F1 for spam
    best_index: int


def _pipeline(config: SpamSvmTrainConfig) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    # Words carry the vocabulary of spam ("claim", "prize"); character n-grams catch what
    # word tokens miss: "£1000", "FREE!!", phone numbers, creative spelling.
    features = FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, config.word_ngrams), sublinear_tf=True)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=config.char_ngrams,
                                 sublinear_tf=True, min_df=2)),
    ])  # fmt: skip
    return Pipeline([("features", features), ("svm", LinearSVC(random_state=config.random_state))])


class SpamSvm(ModelSpec[SmsMessage, SpamPrediction, SpamSvmTrainConfig, SmsSplit, SpamModel]):
    name = "spam-svm"
    module = 7
    title = "Spam vs ham with a linear SVM"
    kind = "classifier"
    flavor = "skops"
    input_schema = SmsMessage
    output_schema = SpamPrediction
    config_schema = SpamSvmTrainConfig
    example_input = SmsMessage(
        text="URGENT! You have won a 1 week FREE holiday to Spain. To claim your prize call "
        "09061234567 now. T&Cs apply, 18+ only, 150p/min."
    )
    floors = (Floor("test_accuracy", minimum=0.98), Floor("test_f1_spam", minimum=0.92))
    selection_metric = "test_f1_spam"

    def smoke_config(self) -> SpamSvmTrainConfig:
        return SpamSvmTrainConfig(c_grid=(1.0,), char_ngrams=(3, 4), cv_folds=2, max_samples=800)

    def load_data(self, config: SpamSvmTrainConfig, run: TrainingRun) -> SmsSplit:
        from sklearn.model_selection import train_test_split

        frame = load_sms_spam(run, run.data_path)
        text = frame["text"].to_numpy(dtype=object)
        y = (frame["label"] == "spam").to_numpy(dtype=np.int64)
        if config.max_samples is not None and config.max_samples < len(y):
            text, _, y, _ = train_test_split(
                text, y, train_size=config.max_samples, stratify=y, random_state=config.random_state
            )
        text_train, text_test, y_train, y_test = train_test_split(
            text, y, test_size=config.test_size, stratify=y, random_state=config.random_state
        )
        return SmsSplit(text_train, text_test, y_train, y_test, config)

    def fit(self, config: SpamSvmTrainConfig, data: SmsSplit, run: TrainingRun) -> SpamModel:
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        run.step(f"tuning C by {config.cv_folds}-fold cross-validation")
        search = GridSearchCV(
            _pipeline(config),
            {"svm__C": list(config.c_grid)},
            cv=StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.random_state),
            scoring="f1",  # of class 1, spam: accuracy would reward calling everything ham
        ).fit(data.text_train, data.y_train)
        results = search.cv_results_
        candidates = [
            {"c": float(params["svm__C"]), "cv_f1_spam": float(mean), "cv_f1_spam_std": float(std)}
            for params, mean, std in zip(
                results["params"], results["mean_test_score"], results["std_test_score"],
                strict=True,
            )
        ]  # fmt: skip
        return SpamModel(search.best_estimator_, candidates, int(search.best_index_))

    def evaluate(self, artifact: SpamModel, data: SmsSplit, run: TrainingRun) -> dict[str, float]:
        from sklearn.metrics import (
            ConfusionMatrixDisplay,
            accuracy_score,
            precision_recall_fscore_support,
        )

        chosen = artifact.candidates[artifact.best_index]
        scores = artifact.pipeline.decision_function(data.text_test)
        predicted = (scores > 0).astype(np.int64)
        precision, recall, f1, support = precision_recall_fscore_support(
            data.y_test, predicted, labels=[1, 0], zero_division=0
        )
        metrics = {
            "test_accuracy": float(accuracy_score(data.y_test, predicted)),
            "test_f1_spam": float(f1[0]),
            "test_precision_spam": float(precision[0]),
            "test_recall_spam": float(recall[0]),
            "cv_f1_spam": chosen["cv_f1_spam"],
            "cv_f1_spam_std": chosen["cv_f1_spam_std"],
            "c": chosen["c"],
        }
        run.add_table(
            "held_out_scores",
            {
                label: {"precision": round(float(p), 4), "recall": round(float(r), 4),
                        "f1": round(float(f), 4), "support": int(s)}
                for label, p, r, f, s in zip(("spam", "ham"), precision, recall, f1, support,
                                             strict=True)
            },
        )  # fmt: skip
        run.add_table("grid_search", artifact.candidates)
        top_terms = self._top_terms(artifact.pipeline, 15)
        run.add_table("top_terms", top_terms)

        self._plot_grid(artifact, run)
        figure, axes = new_figure(5, 4.4)
        axes.grid(False)
        ConfusionMatrixDisplay.from_predictions(
            data.y_test, predicted, labels=[0, 1], display_labels=["ham", "spam"], ax=axes,
            colorbar=False,
        )  # fmt: skip
        axes.set_title(f"Held-out confusion matrix (accuracy {metrics['test_accuracy']:.3f})")
        run.add_plot("confusion_matrix", figure)
        self._plot_scores(scores, data.y_test, run)
        self._plot_terms(top_terms, run)

        missed = int(((predicted == 0) & (data.y_test == 1)).sum())
        false_alarms = int(((predicted == 1) & (data.y_test == 0)).sum())
        run.note(
            f"C = {chosen['c']:g} won {data.config.cv_folds}-fold CV (spam F1 "
            f"{chosen['cv_f1_spam']:.3f} ± {chosen['cv_f1_spam_std']:.3f}). On "
            f"{len(data.y_test):,} held-out messages: accuracy {metrics['test_accuracy']:.3f}, "
            f"spam precision {metrics['test_precision_spam']:.3f} and recall "
            f"{metrics['test_recall_spam']:.3f}; {missed} spam messages got through and "
            f"{false_alarms} legitimate ones were flagged."
        )
        return metrics

    def _top_terms(self, pipeline: Any, n: int) -> dict[str, list[dict[str, Any]]]:
        """The n-grams that push hardest towards spam and towards ham."""
        names = pipeline.named_steps["features"].get_feature_names_out()
        weights = pipeline.named_steps["svm"].coef_.ravel()
        order = np.argsort(weights)

        def describe(index: int) -> dict[str, Any]:
            kind, term = str(names[index]).split("__", 1)
            return {"kind": kind, "term": term, "weight": round(float(weights[index]), 4)}

        return {
            "spam": [describe(i) for i in order[::-1][:n]],
            "ham": [describe(i) for i in order[:n]],
        }

    def _plot_grid(self, artifact: SpamModel, run: TrainingRun) -> None:
        figure, axes = new_figure()
        candidates = artifact.candidates
        axes.errorbar(
            [c["c"] for c in candidates], [c["cv_f1_spam"] for c in candidates],
            yerr=[c["cv_f1_spam_std"] for c in candidates], marker="o", capsize=3,
        )  # fmt: skip
        chosen = candidates[artifact.best_index]
        axes.scatter([chosen["c"]], [chosen["cv_f1_spam"]], s=160, facecolors="none",
                     edgecolors="black", zorder=3,
                     label=f"chosen: C = {chosen['c']:g}")  # fmt: skip
        axes.set_xscale("log")
        axes.set(xlabel="C (log scale; larger = weaker regularisation)",
                 ylabel="CV F1 for spam (mean ± std over folds)",
                 title="Tuning the SVM's C by grid search")  # fmt: skip
        axes.legend()
        run.add_plot("grid_search", figure)

    def _plot_scores(self, scores: np.ndarray, y: np.ndarray, run: TrainingRun) -> None:
        figure, axes = new_figure()
        bins = np.linspace(float(scores.min()), float(scores.max()), 50).tolist()
        axes.hist(scores[y == 0], bins=bins, alpha=0.6, label="ham (true label)")
        axes.hist(scores[y == 1], bins=bins, alpha=0.6, label="spam (true label)")
        axes.axvline(0, color="black", linestyle="--", label="decision boundary")
        axes.set_yscale("log")
        axes.set(xlabel="SVM score (positive = spam)", ylabel="held-out messages (log scale)",
                 title="Where held-out messages fall")  # fmt: skip
        axes.legend()
        run.add_plot("score_distribution", figure)

    def _plot_terms(self, top_terms: dict[str, list[dict[str, Any]]], run: TrainingRun) -> None:
        figure, grid = plt.subplots(1, 2, figsize=(10, 4.8))
        for axes, label, colour in zip(grid, ("spam", "ham"), ("C3", "C0"), strict=True):
            terms = top_terms[label][::-1]
            axes.barh([f"{t['term']!r} ({t['kind']})" for t in terms],
                      [abs(t["weight"]) for t in terms], color=colour)  # fmt: skip
            axes.set(xlabel="|SVM weight|", title=f"n-grams that point to {label}")
            axes.grid(alpha=0.3)
        figure.tight_layout()
        run.add_plot("top_terms", figure)

    def save(self, artifact: SpamModel) -> dict[str, bytes]:
        meta = {"candidates": artifact.candidates, "best_index": artifact.best_index}
        return save_text_pipeline(artifact.pipeline, meta)

    def load(self, files: Mapping[str, bytes]) -> SpamModel:
        meta = load_meta(files)
        return SpamModel(load_text_pipeline(files), meta["candidates"], meta["best_index"])

    def predict(self, artifact: SpamModel, batch: Sequence[SmsMessage]) -> list[SpamPrediction]:
        scores = artifact.pipeline.decision_function([message.text for message in batch])
        return [SpamPrediction(label="spam" if s > 0 else "ham", score=float(s)) for s in scores]
