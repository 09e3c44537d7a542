"""Module 7: spam or ham? A linear SVM on TF-IDF word and character n-grams of SMS messages."""

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from training.data import Holdout, SplitConfig, holdout
from training.data.loaders import load_sms_spam
from training.frameworks.sklearn import SklearnSpec
from training.report.classification import report_classification
from training.report.importance import plot_importance
from training.report.search import Searched, grid_search, report_search
from training.run import TrainingRun
from training.schemas import Text
from training.spec import Floor, Schema

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


class SpamSvm(SklearnSpec[SmsMessage, SpamPrediction, SpamSvmTrainConfig, Holdout[Any], Searched]):
    name, module, kind = "spam-svm", 7, "classifier"
    data_folders = ("sms_spam",)
    title = "Spam vs ham with a linear SVM"
    example_input = SmsMessage(
        text="URGENT! You have won a 1 week FREE holiday to Spain. To claim your prize call "
        "09061234567 now. T&Cs apply, 18+ only, 150p/min."
    )
    floors = (Floor("test_accuracy", minimum=0.98), Floor("test_f1_spam", minimum=0.92))
    selection_metric = "test_f1_spam"

    def smoke_config(self) -> SpamSvmTrainConfig:
        return SpamSvmTrainConfig(c_grid=(1.0,), char_ngrams=(3, 4), cv_folds=2, max_samples=800)

    def load_data(self, config: SpamSvmTrainConfig, run: TrainingRun) -> Holdout[Any]:
        frame = load_sms_spam(run, run.data_path)
        is_spam = (frame["label"] == "spam").to_numpy(dtype=np.int64)
        return holdout(frame["text"].to_numpy(dtype=object), is_spam, config)

    def fit(self, config: SpamSvmTrainConfig, data: Holdout[Any], run: TrainingRun) -> Searched:
        # C is chosen by F1 for spam: accuracy would reward calling everything ham.
        return grid_search(
            _pipeline(config), {"svm__C": list(config.c_grid)}, data.X_train, data.y_train,
            folds=config.cv_folds, scoring="f1", random_state=config.random_state, run=run,
        )  # fmt: skip

    def evaluate(
        self, artifact: Searched, data: Holdout[Any], config: SpamSvmTrainConfig, run: TrainingRun
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

    def predict(self, artifact: Searched, batch: Sequence[SmsMessage]) -> list[SpamPrediction]:
        scores = artifact.estimator.decision_function([message.text for message in batch])
        return [SpamPrediction(label="spam" if s > 0 else "ham", score=float(s)) for s in scores]
