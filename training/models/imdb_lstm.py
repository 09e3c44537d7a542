"""Module 19: an LSTM reads review sentiment, over a vocabulary learnt from the training text.

Bundled data: Rotten Tomatoes sentence polarity plus the 1,000 labelled IMDB sentences.
The full IMDB (50,000 reviews) is not available offline; `--data PATH` trains on it from
its `aclImdb` folder. Words are numbered by a `tokenizers` WordLevel vocabulary built from
the training part only; the LSTM's outputs are pooled (mean and max) over each text's own
tokens, so padding a text to a longer neighbour's length never changes its answer.
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from training.data.loaders import load_rt_polarity
from training.data.splits import Holdout
from training.data.text_sets import load_imdb_reviews, load_imdb_sentences
from training.frameworks.onnx import Inputs, Network, take
from training.frameworks.torch import TorchNetwork, TorchSpec, TorchTrainConfig, split_inputs
from training.models._text import (
    PAD_ID,
    TOKENIZER_FILE,
    UNK_ID,
    length_bucket,
    softmax64,
    stored_tokenizer,
    tokenize,
    torch_threads,
    word_tokenizer,
)
from training.models.review_sentiment import MovieReview, ReviewPolarity
from training.report.classification import report_classification, report_roc
from training.report.curves import plot_learning_curves
from training.run import TrainingRun
from training.spec import BatchPolicy, Floor, HeldOut

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

CLASSES = ("negative", "positive")  # class 0, class 1
SOURCES = ("Rotten Tomatoes snippets", "IMDB sentences", "IMDB reviews (aclImdb)")
FLOOR = 0.72


class ImdbLstmTrainConfig(TorchTrainConfig):
    min_frequency: int = Field(3, ge=1, description="training-text count a word needs for an id")
    max_tokens: int = Field(256, ge=8, description="tokens read per text; the rest is cut")
    embedding_dim: int = Field(64, ge=1)
    hidden_size: int = Field(64, ge=1, description="LSTM state width")
    embedding_dropout: float = Field(0.5, ge=0, lt=1)
    dropout: float = Field(0.5, ge=0, lt=1, description="before the output layer")
    validation_size: float = 0.1
    epochs: int = 12
    learning_rate: float = 5e-3
    weight_decay: float = 1e-2
    threads: int = Field(1, ge=1, description="PyTorch intra-op threads while training")


class ImdbLstm(TorchSpec[MovieReview, ReviewPolarity, ImdbLstmTrainConfig]):
    name, module, kind = "imdb-lstm", 19, "classifier"
    data_folders = ("rt_polarity", "sentiment_labelled_sentences")
    title = (
        "Review sentiment with an LSTM over a learnt vocabulary (PyTorch, served by ONNX Runtime)"
    )
    input_names = ("tokens",)
    dynamic_axes: ClassVar[Mapping[str, Mapping[int, str]]] = {"tokens": {1: "length"}}
    example_input = MovieReview(
        text="An absorbing, beautifully acted film; the story stays with you long after it ends."
    )
    floors = (Floor("test_accuracy", minimum=FLOOR),)
    selection_metric = "test_accuracy"
    # Measured through ONNX Runtime on one thread: ~0.3 ms for one review alone, ~0.14 ms
    # per review in a batch of 8 or 16 of like length.
    batch_policy = BatchPolicy(max_items=32)

    def smoke_config(self) -> ImdbLstmTrainConfig:
        return ImdbLstmTrainConfig(max_samples=600, epochs=2, min_frequency=2)

    def load_data(self, config: ImdbLstmTrainConfig, run: TrainingRun) -> Holdout[Inputs]:
        frame = reviews(run)
        inputs = {
            "text": frame["text"].to_numpy(dtype=object),
            "source": frame["source"].to_numpy(),
        }
        parts = split_inputs(inputs, polarity(frame), config)
        # The vocabulary comes from the training part alone (`fit` rebuilds the same one).
        tokenizer = vocabulary(parts.X_train, config)

        def with_tokens(part: Inputs) -> Inputs:
            return {**part, "tokens": tokenize(tokenizer, part["text"])[0]}

        X_val = None if parts.X_val is None else with_tokens(parts.X_val)
        return replace(
            parts, X_train=with_tokens(parts.X_train), X_test=with_tokens(parts.X_test), X_val=X_val
        )

    def build(self, config: ImdbLstmTrainConfig, meta: Mapping[str, Any]) -> "torch.nn.Module":
        import torch
        from torch import nn

        class SentimentLstm(nn.Module):
            """Embeddings → LSTM → mean and max of its outputs over real tokens → 2 logits."""

            def __init__(self) -> None:
                super().__init__()
                words, width = meta["vocabulary_size"], config.embedding_dim
                self.embedding = nn.Embedding(words, width, padding_idx=PAD_ID)
                self.embedding_dropout = nn.Dropout(config.embedding_dropout)
                self.lstm = nn.LSTM(config.embedding_dim, config.hidden_size, batch_first=True)
                self.dropout = nn.Dropout(config.dropout)
                self.out = nn.Linear(2 * config.hidden_size, len(CLASSES))

            def forward(self, tokens: torch.Tensor) -> torch.Tensor:
                if not torch.compiler.is_exporting():  # skip columns that are padding in every row
                    tokens = tokens[:, : max(1, int((tokens != PAD_ID).sum(1).max()))]
                real = (tokens != PAD_ID).unsqueeze(-1)
                states, _ = self.lstm(self.embedding_dropout(self.embedding(tokens)))
                # A forward LSTM's output at a real token never sees the padding after it.
                mean = (states * real).sum(1) / real.sum(1).clamp(min=1)
                peak = states.masked_fill(~real, -1.0).amax(1)  # outputs lie in (-1, 1)
                pooled = torch.cat([mean, peak], dim=1)
                return self.out(self.dropout(pooled))  # type: ignore[no-any-return]

        return SentimentLstm()

    def fit(
        self, config: ImdbLstmTrainConfig, data: Holdout[Inputs], run: TrainingRun
    ) -> TorchNetwork:
        run.record_library("tokenizers")
        tokenizer = vocabulary(data.X_train, config)
        meta = {"classes": list(CLASSES), "vocabulary_size": tokenizer.get_vocab_size()}
        with torch_threads(config.threads):
            trained = self.network(config, data, run, meta)
        files = {TOKENIZER_FILE: tokenizer.to_str().encode("utf-8")}
        return TorchNetwork(
            trained.module, meta, input_names=self.input_names, history=trained.history, files=files
        )

    def evaluate(
        self, artifact: Network, data: Holdout[Inputs], config: ImdbLstmTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:  # fmt: skip
        assert isinstance(artifact, TorchNetwork)
        X, y = data.X_test, data.y_test
        chunks = [artifact.run(take(X, slice(i, i + 512))) for i in range(0, len(y), 512)]
        probability = softmax64(np.concatenate(chunks))[:, 1]
        predicted = (probability > 0.5).astype(np.int64)
        metrics = report_classification(run, y, predicted, CLASSES)
        metrics["test_roc_auc"] = report_roc(run, y, probability, positive="positive")
        plot_learning_curves(run, {"LSTM": artifact.history.as_series()})
        run.add_table("accuracy_by_source", {
            SOURCES[s]: {"held_out": int((X["source"] == s).sum()),
                         "accuracy": round(float((predicted == y)[X["source"] == s].mean()), 4)}
            for s in sorted(set(X["source"].tolist()))
        })  # fmt: skip
        unknown = float((X["tokens"] == UNK_ID).sum() / (X["tokens"] != PAD_ID).sum())
        words = int(artifact.meta["vocabulary_size"])
        margin = metrics["test_accuracy"] - FLOOR
        run.note(
            f"Held-out accuracy {metrics['test_accuracy']:.3f} on {len(y):,} texts "
            f"({margin:+.3f} over the {FLOOR} floor), ROC-AUC {metrics['test_roc_auc']:.3f}; "
            f"weights of epoch {artifact.history.best_epoch} (lowest validation loss). The "
            f"vocabulary holds {words:,} ids learnt from the {len(data.y_train):,} training "
            f"texts (words seen at least {config.min_frequency} times); {unknown:.1%} of held-out "
            "tokens fall outside it and read as [UNK]."
        )
        run.note(
            "Data: Rotten Tomatoes sentence polarity (Pang & Lee, 2005) plus the 1,000 labelled "
            "IMDB sentences of Kotzias et al. (2015). The full IMDB set (Maas et al., 2011; 50,000 "
            "reviews) is not available offline: download aclImdb_v1.tar.gz from "
            "ai.stanford.edu/~amaas/data/sentiment, unpack it and run `practica train imdb-lstm "
            "--data PATH/aclImdb` (its train/ and test/ pos and neg reviews, up to "
            f"{config.max_tokens} tokens each, replace the bundled sentences)."
            if run.data_path is None else
            f"Data: the IMDB reviews under {run.data_path.name}/ (aclImdb layout)."
        )  # fmt: skip
        return metrics | {"best_epoch": float(artifact.history.best_epoch),
                          "vocabulary_size": float(words)}  # fmt: skip

    def held_out(self, config: ImdbLstmTrainConfig, run: TrainingRun) -> HeldOut:
        from sklearn.metrics import accuracy_score

        frame = reviews(run)
        texts = frame["text"].to_numpy(dtype=object)
        split = split_inputs({"text": texts}, polarity(frame), config)  # `load_data`'s split

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            predicted = [CLASSES.index(answer["label"]) for answer in answers]
            return {"test_accuracy": float(accuracy_score(split.y_test, predicted))}

        return HeldOut([{"text": text} for text in split.X_test["text"]], score)

    def batch_group(self, instance: MovieReview) -> Hashable:
        return length_bucket(instance.text, width=100, buckets=12)

    def encode(self, network: Network, batch: Sequence[MovieReview]) -> Inputs:
        return {"tokens": tokenize(stored_tokenizer(network), [r.text for r in batch])[0]}

    def decode(self, network: Network, outputs: np.ndarray) -> list[ReviewPolarity]:
        return [
            ReviewPolarity(label="positive" if p > 0.5 else "negative", probability=float(p))
            for p in softmax64(outputs)[:, 1]
        ]


def reviews(run: TrainingRun) -> pd.DataFrame:
    """`text`, `label`, `source` (index in SOURCES): the user's IMDB, else the bundled sets."""
    if run.data_path is not None:
        return load_imdb_reviews(run, run.data_path).assign(source=2)
    bundled = [load_rt_polarity(run).assign(source=0), load_imdb_sentences(run).assign(source=1)]
    return pd.concat(bundled, ignore_index=True)


def polarity(frame: pd.DataFrame) -> np.ndarray:
    """Class indices of the reviews' labels: 1 positive, 0 negative."""
    return (frame["label"] == "positive").to_numpy(dtype=np.int64)


def vocabulary(X_train: Inputs, config: ImdbLstmTrainConfig) -> "Tokenizer":
    """The word-level tokenizer of the training texts (the same one for the same texts)."""
    return word_tokenizer(
        X_train["text"], min_frequency=config.min_frequency, max_tokens=config.max_tokens
    )
