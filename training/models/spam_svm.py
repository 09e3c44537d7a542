"""Module 7: spam or ham? A linear SVM on TF-IDF word and character n-grams of SMS messages.

Served by a NumPy replay of the fitted pipeline: the SVM's weights summed over the
message's own n-grams.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field

from training.data import Holdout, SplitConfig, holdout
from training.data.loaders import load_sms_spam
from training.frameworks.base import RUNTIME
from training.frameworks.compiled import FLOAT64_RTOL, check_parity
from training.frameworks.replay import TextLinearReplay, replay_text_model, with_replay
from training.frameworks.sklearn import SklearnSpec
from training.report.classification import report_classification
from training.report.importance import plot_importance
from training.report.search import Searched, grid_search, report_search
from training.run import TrainingRun
from training.schemas import Text
from training.spec import Floor, HeldOut, LoadContext, Schema

LABELS = ("ham", "spam")  # class 0, class 1


class SmsMessage(Schema):
    text: Text


class SpamPrediction(Schema):
    label: Literal["spam", "ham"] = Field(description="spam (unsolicited) or ham (legitimate)")
    score: float = Field(description="the SVM's signed distance to its boundary: positive is "
                         "spam, negative ham; the further from 0, the surer")  # fmt: skip


class SpamSvmTrainConfig(SplitConfig):
    c_grid: tuple[float, ...] = Field((0.1, 0.3, 1, 3, 10, 30), min_length=1, description="C tried")
    word_ngrams: int = Field(2, ge=1, le=3, description="word n-grams from 1 to this length")
    char_ngrams: tuple[int, int] = Field((2, 5), description="character n-gram lengths, in words")
    cv_folds: int = Field(5, ge=2, description="stratified folds of the training part")


@dataclass(frozen=True)
class SpamModel(Searched):
    """The chosen pipeline, and its NumPy replay once loaded."""

    replay: TextLinearReplay | None = field(default=None, metadata=RUNTIME)  # what serves


def spam_scores(model: SpamModel, texts: Sequence[str]) -> np.ndarray:
    """The SVM's decision values: positive is spam."""
    if model.replay is not None:
        return model.replay.scores(texts)[:, 0]
    return np.asarray(model.estimator.decision_function(texts), dtype=np.float64)


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
    # The largest C on some splits needs more than liblinear's default 1,000 iterations;
    # a fit that converges sooner stops where it did.
    svm = LinearSVC(max_iter=10_000, random_state=config.random_state)
    return Pipeline([("features", features), ("svm", svm)])


class SpamSvm(SklearnSpec[SmsMessage, SpamPrediction, SpamSvmTrainConfig, Holdout[Any], SpamModel]):
    name, module, kind = "spam-svm", 7, "classifier"
    data_folders = ("sms_spam",)
    title = "Spam vs ham with a linear SVM"
    example_input = SmsMessage(
        text="URGENT! You have won a 1 week FREE holiday to Spain. To claim your prize call "
        "09061234567 now. T&Cs apply, 18+ only, 150p/min."
    )
    floors = (Floor("test_accuracy", minimum=0.98), Floor("test_f1_spam", minimum=0.92))
    selection_metric = "test_f1_spam"
    # The analyzer splits text in Python: a request's characters bound its CPU.
    max_work, work_unit = 1_000_000, "characters"

    def work(self, instance: SmsMessage) -> int:
        return len(instance.text)

    def smoke_config(self) -> SpamSvmTrainConfig:
        return SpamSvmTrainConfig(c_grid=(1.0,), char_ngrams=(3, 4), cv_folds=2, max_samples=800)

    def load_data(self, config: SpamSvmTrainConfig, run: TrainingRun) -> Holdout[Any]:
        frame = load_sms_spam(run, run.data_path)
        is_spam = (frame["label"] == "spam").to_numpy(dtype=np.int64)
        return holdout(frame["text"].to_numpy(dtype=object), is_spam, config)

    def fit(self, config: SpamSvmTrainConfig, data: Holdout[Any], run: TrainingRun) -> SpamModel:
        # C is chosen by F1 for spam: accuracy would reward calling everything ham.
        searched = grid_search(
            _pipeline(config), {"svm__C": list(config.c_grid)}, data.X_train, data.y_train,
            folds=config.cv_folds, scoring="f1", random_state=config.random_state, run=run,
        )  # fmt: skip
        model = with_replay(SpamModel(searched.estimator, searched.search), replay_text_model)
        # The replay is what serves: it must answer the held-out messages as the pipeline.
        expected = searched.estimator.decision_function(data.X_test)
        actual = spam_scores(model, list(data.X_test))
        check_parity("spam-svm score", expected, actual, rtol=FLOAT64_RTOL)
        check_parity("spam-svm label", expected > 0, actual > 0, rtol=0)
        return model

    def evaluate(
        self, artifact: SpamModel, data: Holdout[Any], config: SpamSvmTrainConfig, run: TrainingRun
    ) -> dict[str, float]:
        predicted = (artifact.estimator.decision_function(data.X_test) > 0).astype(np.int64)
        metrics = report_classification(run, data.y_test, predicted, LABELS, positive="spam")
        chosen = report_search(run, artifact.search, x="C", score="cv_f1", folds=config.cv_folds,
                               log_x=True)  # fmt: skip
        features, svm = artifact.estimator.named_steps.values()
        plot_importance(run, features.get_feature_names_out(), svm.coef_.ravel(), top=30,
                        signed=True, xlabel="SVM weight (positive = spam)",
                        title="The n-grams that decide")  # fmt: skip
        return metrics | {"cv_f1_spam": chosen["cv_f1"], "cv_f1_spam_std": chosen["cv_f1_std"],
                          "c": chosen["C"]}  # fmt: skip

    def held_out(self, config: SpamSvmTrainConfig, run: TrainingRun) -> HeldOut:
        from sklearn.metrics import accuracy_score, f1_score

        split = self.load_data(config, run)  # the messages are already what a user posts

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            predicted = np.array([answer["label"] == "spam" for answer in answers], np.int64)
            return {
                "test_accuracy": float(accuracy_score(split.y_test, predicted)),
                "test_f1_spam": float(f1_score(split.y_test, predicted, zero_division=0)),
            }

        return HeldOut([{"text": text} for text in split.X_test], score)

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> SpamModel:
        return with_replay(super().load(files, context), replay_text_model)

    def predict(self, artifact: SpamModel, batch: Sequence[SmsMessage]) -> list[SpamPrediction]:
        scores = spam_scores(artifact, [message.text for message in batch])
        return [SpamPrediction(label="spam" if s > 0 else "ham", score=float(s)) for s in scores]
