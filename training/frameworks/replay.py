"""Fitted scikit-learn steps replayed in NumPy: the request path without per-call overhead.

scikit-learn validates, converts and dispatches on every call, which costs a millisecond
or more whatever the batch; a request holds one or a few rows. A replay reads a fitted
step's learned state once, when a version loads (`replay_columns`, `replay_text_model`),
and answers with plain array arithmetic: medians, means and scales; category lookups;
TF-IDF weights summed over a text's own terms (a sparse dot product, never a dense row of
the whole vocabulary, for a text model's head); a k-NN's one matrix product. Text is still
split into words by the vectorizer's own decoding, preprocessing and tokenizer (word pairs
are then looked up without joining them, `_WordTerms`; any other analyzer runs whole), so
tokens cannot drift.

Nothing is stored: the replay is rebuilt from the estimator the version already holds,
so versions published before it existed are served by it too. (A k-NN over 8-bit images
may also use a stored graph of its training pixels, `compiled.integer_product_graph`;
without one it multiplies in float32.) A step it does not know raises
`NotReplayableError`, and the model falls back to its estimator. Training checks each
replay against its estimator on held-out rows (`compiled.check_parity`).
"""

import dataclasses
import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import numpy as np

from training.frameworks.compiled import CompiledGraph

_UNKNOWN = "\x00not a category seen in training"


class NotReplayableError(Exception):
    """The estimator has a step or setting the replays do not implement."""


ArtifactT = TypeVar("ArtifactT")


def with_replay(artifact: ArtifactT, replay_of: Callable[..., Any], *args: Any) -> ArtifactT:
    """The artifact with its `replay` field built from its `estimator` (and `args`) by
    `replay_of`; unchanged when the estimator has a step the replays do not know (it
    then serves)."""
    try:
        replay = replay_of(artifact.estimator, *args)  # type: ignore[attr-defined]
    except NotReplayableError:
        return artifact
    return dataclasses.replace(artifact, replay=replay)  # type: ignore[type-var]


Column = np.ndarray | Sequence[Any]
"""A column's values: an array, or a request's values as they came (a list, a tuple)."""


def _listed(values: Column) -> Sequence[Any]:
    """The values as Python objects: NumPy's string elements are rebuilt on every read
    and hash slowly."""
    return values.tolist() if isinstance(values, np.ndarray) else values


class ColumnStep(Protocol):
    def transform(self, columns: Mapping[str, Column]) -> np.ndarray:
        """(n, the step's output width) float64 for columns by name."""
        ...


@dataclass(frozen=True)
class NumericReplay:
    """SimpleImputer (NaN filled; its MissingIndicator columns appended), then StandardScaler."""

    columns: list[str]
    fill: np.ndarray
    indicated: np.ndarray  # indices of the columns whose missingness is a feature
    mean: np.ndarray
    scale: np.ndarray

    @property
    def n_outputs(self) -> int:
        return len(self.columns) + len(self.indicated)

    def transform(self, columns: Mapping[str, Column]) -> np.ndarray:
        # Filled in place: a request's few rows cost per NumPy call, not per value, so
        # the columns are read in one call and nothing is concatenated.
        n = len(self.columns)
        out = np.empty((len(columns[self.columns[0]]), self.n_outputs))
        given = out[:, :n]
        given[...] = np.array([columns[column] for column in self.columns], dtype=np.float64).T
        missing = np.isnan(given)
        np.copyto(given, self.fill, where=missing)
        out[:, n:] = missing[:, self.indicated]
        out -= self.mean
        out /= self.scale
        return out


def _numeric(step: Any, columns: list[str]) -> NumericReplay:
    steps = [s for _, s in step.steps] if hasattr(step, "steps") else [step]
    kinds = [type(s).__name__ for s in steps]
    if kinds not in (["SimpleImputer"], ["StandardScaler"], ["SimpleImputer", "StandardScaler"]):
        raise NotReplayableError(f"numeric steps {kinds} are not an imputer and/or a scaler")
    imputer = steps[0] if kinds[0] == "SimpleImputer" else None
    scaler = steps[-1] if kinds[-1] == "StandardScaler" else None
    n = len(columns)
    fill, indicated = np.full(n, np.nan), np.empty(0, dtype=np.int64)
    if imputer is not None:
        if not (isinstance(imputer.missing_values, float) and np.isnan(imputer.missing_values)):
            raise NotReplayableError("only NaN is replayed as a missing number")
        if np.isnan(imputer.statistics_).any() and not imputer.keep_empty_features:
            raise NotReplayableError("an imputer that drops empty columns")
        # A column empty in training is filled with 0 (scikit-learn's keep_empty_features).
        fill = np.nan_to_num(imputer.statistics_.astype(np.float64), nan=0.0)
        if imputer.indicator_ is not None:
            indicated = np.asarray(imputer.indicator_.features_, dtype=np.int64)
    width = n + len(indicated)
    mean, scale = np.zeros(width), np.ones(width)
    if scaler is not None:
        mean = scaler.mean_ if scaler.with_mean else mean
        scale = scaler.scale_ if scaler.with_std else scale
    return NumericReplay(columns, fill, indicated, mean, scale)


@dataclass(frozen=True)
class OneHotReplay:
    """OneHotEncoder: each column's category → its output index (-1: no column is set)."""

    columns: list[str]
    lookups: list[dict[str, int]]  # per column, offsets included
    unknown: list[int]  # per column: where a category unseen in training goes
    n_outputs: int

    def transform(self, columns: Mapping[str, Column]) -> np.ndarray:
        out = np.zeros((len(columns[self.columns[0]]), self.n_outputs))
        rows, indices = [], []  # where the ones go, every column's together: one assignment
        for column, lookup, unknown in zip(self.columns, self.lookups, self.unknown, strict=True):
            for row, value in enumerate(_listed(columns[column])):
                index = lookup.get(value, unknown)
                if index >= 0:
                    rows.append(row)
                    indices.append(index)
        out[rows, indices] = 1.0
        return out


def _one_hot(encoder: Any, columns: list[str]) -> OneHotReplay:
    """Where the fitted encoder itself puts each category (infrequent ones included), read by
    transforming one row per category: its rules are asked, not re-implemented."""
    if encoder.drop is not None or encoder.handle_unknown == "error":
        raise NotReplayableError("a one-hot encoder that drops a category or refuses unknown ones")
    if not all(np.asarray(c).dtype.kind in "OUT" for c in encoder.categories_):
        raise NotReplayableError("only text categories are replayed")
    import pandas as pd

    base = {c: cats[0] for c, cats in zip(columns, encoder.categories_, strict=True)}
    # Set only when the encoder groups rare categories (min_frequency, max_categories).
    infrequent_by_column = getattr(encoder, "infrequent_categories_", [None] * len(columns))
    lookups, unknowns, offset = [], [], 0
    for column, categories in zip(columns, encoder.categories_, strict=True):
        values = [*categories, _UNKNOWN]
        rows = pd.DataFrame({c: [base[c]] * len(values) for c in columns} | {column: values})
        infrequent = infrequent_by_column[columns.index(column)]
        width = len(categories) - (0 if infrequent is None else len(infrequent) - 1)
        with warnings.catch_warnings():  # the unseen category is sent on purpose
            warnings.simplefilter("ignore")
            block = np.asarray(encoder.transform(rows))[:, offset : offset + width]
        where = [int(np.argmax(row)) + offset if row.any() else -1 for row in block]
        lookups.append(dict(zip(categories, where[:-1], strict=True)))
        unknowns.append(where[-1])
        offset += width
    return OneHotReplay(columns, lookups, unknowns, offset)


def _imputed_one_hot(pipeline: Any, columns: list[str]) -> OneHotReplay:
    """A Pipeline of a SimpleImputer of text, then a OneHotEncoder: the missing marker is
    looked up as the category the imputer puts in its place."""
    from sklearn.impute import SimpleImputer

    steps = [step for _, step in pipeline.steps]
    imputer = steps[0]
    if (
        len(steps) != 2
        or not isinstance(imputer, SimpleImputer)
        or not isinstance(imputer.missing_values, str)
        or imputer.indicator_ is not None
    ):
        raise NotReplayableError(f"categorical steps {steps} are not a text imputer, then one-hot")
    replay = _one_hot(steps[1], columns)
    for lookup, fill in zip(replay.lookups, imputer.statistics_, strict=True):
        if fill not in lookup:
            raise NotReplayableError(f"the imputer fills in {fill!r}, a category the encoder lacks")
        lookup[imputer.missing_values] = lookup[fill]
    return replay


Terms = tuple[np.ndarray, np.ndarray]
"""A text's TF-IDF as (term indices, weights): the terms it has, nothing else."""

TermIndices = Callable[[str], list[int]]
"""A text's terms as vocabulary indices, one per occurrence (out-of-vocabulary ones left out)."""


@dataclass(frozen=True)
class TfidfReplay:
    """TfidfVectorizer: the vectorizer's terms of a text, then counts, tf, idf and the norm."""

    term_indices: TermIndices
    vocabulary: Mapping[str, int]
    idf: list[float] | None  # a list: weights are computed per term, in Python
    sublinear_tf: bool
    binary: bool
    norm: str | None

    @property
    def n_outputs(self) -> int:
        return len(self.vocabulary)

    def terms(self, text: str) -> Terms:
        indices, weights = self._weighted(text)
        return np.array(indices, dtype=np.intp), np.array(weights, dtype=np.float64)

    def transform(self, columns: Mapping[str, Column], column: str = "") -> np.ndarray:
        """Dense TF-IDF rows of a column's texts (a narrow vocabulary: the rows fit).

        Each text's few terms are weighted in plain Python and the rows filled in one
        assignment: a request holds a few texts of a few terms each, and NumPy's calls
        over them, or over their dense rows, cost more than the arithmetic.
        """
        texts = columns[column]
        rows: list[int] = []
        indices: list[int] = []
        weights: list[float] = []
        for row, text in enumerate(_listed(texts)):
            found, values = self._weighted(str(text))
            rows += [row] * len(found)
            indices += found
            weights += values
        out = np.zeros((len(texts), self.n_outputs))
        out[rows, indices] = weights
        return out

    def _weighted(self, text: str) -> tuple[list[int], list[float]]:
        """The text's terms in vocabulary order and their TF-IDF, normalised as the
        vectorizer normalises (its sparse rows sum in that order too)."""
        found = self.term_indices(text)
        indices = sorted(set(found))
        if len(indices) == len(found):  # each term once, as in most short texts: tf is 1.0
            weights = [1.0] * len(indices) if self.idf is None else [self.idf[i] for i in indices]
        else:
            weights = self._term_frequencies(found, indices)
            if self.idf is not None:
                idf = self.idf
                weights = [w * idf[i] for w, i in zip(weights, indices, strict=True)]
        if self.norm is None:
            return indices, weights
        total = 0.0  # summed in order, as scikit-learn sums a row (`sum` may compensate)
        if self.norm == "l2":
            for weight in weights:
                total += weight * weight
            norm = math.sqrt(total)
        else:
            for weight in weights:
                total += abs(weight)
            norm = total
        return indices, [w / norm for w in weights] if norm > 0 else weights

    def _term_frequencies(self, found: list[int], indices: list[int]) -> list[float]:
        """The tf of each of `indices`, from `found`, where some of them occur more than once."""
        if self.binary:
            return [1.0] * len(indices)
        counts: dict[int, int] = {}
        for index in found:
            counts[index] = counts.get(index, 0) + 1
        if self.sublinear_tf:
            return [math.log(counts[i]) + 1.0 for i in indices]
        return [float(counts[i]) for i in indices]


@dataclass(frozen=True)
class _WordTerms:
    """The terms of a vectorizer of words, word pairs or both, found without building
    the string of every pair: a pair is looked up word by word, and most first words
    are the first of no term.

    scikit-learn's analyzer joins each pair of neighbouring words with a space and looks
    the result up; here `pairs` holds the vocabulary's two-word terms split at their
    space. The counts are the same whenever no term has two spaces or more: a pair of
    words containing spaces themselves (a custom tokenizer's) then makes no term either
    way, and every two-word term has exactly one split.
    """

    decode: Callable[[str], str]
    preprocess: Callable[[str], str]
    tokenize: Callable[[str], list[str]]
    singles: Mapping[str, int] | None  # the vocabulary, when single words are terms
    pairs: Mapping[str, Mapping[str, int]]  # first word → second word → index

    def __call__(self, text: str) -> list[int]:
        words = self.tokenize(self.preprocess(self.decode(text)))
        found = []
        if self.singles is not None:
            lookup = self.singles.get
            found = [index for word in words if (index := lookup(word)) is not None]
        if self.pairs:
            follows = self.pairs.get
            for first, second in itertools.pairwise(words):
                after = follows(first)
                if after is not None and (index := after.get(second)) is not None:
                    found.append(index)
        return found


def _term_indices(vectorizer: Any) -> TermIndices:
    """How the replay finds a text's terms: `_WordTerms` where it counts as the vectorizer
    does, else the vectorizer's own analyzer, each term looked up."""
    # Python ints (scikit-learn's are NumPy's): they sort, hash and index lists faster.
    vocabulary = {term: int(index) for term, index in vectorizer.vocabulary_.items()}
    low, high = vectorizer.ngram_range
    if (
        vectorizer.analyzer == "word"
        and high <= 2
        and vectorizer.get_stop_words() is None  # stop words drop words before pairing
        and all(term.count(" ") <= 1 for term in vocabulary)
    ):
        pairs: dict[str, dict[str, int]] = {}
        for term, index in vocabulary.items() if high == 2 else ():
            first, space, second = term.partition(" ")
            if space:
                pairs.setdefault(first, {})[second] = index
        return _WordTerms(
            vectorizer.decode, vectorizer.build_preprocessor(), vectorizer.build_tokenizer(),
            vocabulary if low == 1 else None, pairs,
        )  # fmt: skip
    analyze, lookup = vectorizer.build_analyzer(), vocabulary.get
    return lambda text: [index for term in analyze(text) if (index := lookup(term)) is not None]


def _tfidf(vectorizer: Any) -> TfidfReplay:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not isinstance(vectorizer, TfidfVectorizer) or vectorizer.norm not in ("l1", "l2", None):
        raise NotReplayableError(f"{vectorizer!r} is not a replayable TfidfVectorizer")
    return TfidfReplay(
        _term_indices(vectorizer), vectorizer.vocabulary_,
        vectorizer.idf_.tolist() if vectorizer.use_idf else None,
        vectorizer.sublinear_tf, vectorizer.binary, vectorizer.norm,
    )  # fmt: skip


@dataclass(frozen=True)
class _TextColumn:
    tfidf: TfidfReplay
    column: str

    @property
    def n_outputs(self) -> int:
        return self.tfidf.n_outputs

    def transform(self, columns: Mapping[str, Column]) -> np.ndarray:
        return self.tfidf.transform(columns, self.column)


@dataclass(frozen=True)
class ColumnsReplay:
    """A ColumnTransformer with dense output: each step's block, side by side."""

    steps: list[ColumnStep]

    def transform(self, columns: Mapping[str, Column]) -> np.ndarray:
        return np.hstack([step.transform(columns) for step in self.steps])


def replay_columns(transformer: Any) -> ColumnsReplay:
    """A fitted ColumnTransformer of numeric pipelines, one-hot encoders (a text imputer in
    front or not) and TF-IDF."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    steps: list[ColumnStep] = []
    for name, step, columns in transformer.transformers_:
        if step == "drop" or (name == "remainder" and not len(columns)):
            continue
        if isinstance(step, TfidfVectorizer) and isinstance(columns, str):
            steps.append(_TextColumn(_tfidf(step), columns))
        elif isinstance(step, OneHotEncoder):
            steps.append(_one_hot(step, list(columns)))
        elif isinstance(step, Pipeline) and isinstance(step.steps[-1][1], OneHotEncoder):
            steps.append(_imputed_one_hot(step, list(columns)))
        elif step == "passthrough" or isinstance(columns, str):
            raise NotReplayableError(f"column step {name!r} is not replayed")
        else:
            steps.append(_numeric(step, list(columns)))
    return ColumnsReplay(steps)


@dataclass(frozen=True)
class TextLinearReplay:
    """TF-IDF features (one vectorizer, or a FeatureUnion of them) then a linear head:
    `scores` are the head's decision values, or a naive Bayes' joint log-likelihoods."""

    parts: list[tuple[TfidfReplay, int]]  # each vectorizer and its first feature's column
    weights: np.ndarray  # (n_features, n_scores)
    intercept: np.ndarray  # (n_scores,)
    link: Literal["logistic", "softmax"] | None  # scores → probabilities; None: no probabilities

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(n, n_classes), as the classifier's `predict_proba` computes them."""
        scores = self.scores(texts)
        if self.link == "logistic":  # a binary logistic regression's one decision value
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        if self.link == "softmax":
            exp = np.exp(scores - scores.max(axis=1, keepdims=True))
            return np.asarray(exp / exp.sum(axis=1, keepdims=True))
        raise NotReplayableError("this classifier gives no probabilities")

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        out = np.tile(self.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            for tfidf, offset in self.parts:
                indices, values = tfidf.terms(text)
                out[row] += values @ self.weights[indices + offset]
        return out


def replay_text_model(pipeline: Any) -> TextLinearReplay:
    """A fitted Pipeline of TF-IDF then LinearSVC, LogisticRegression or MultinomialNB."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import FeatureUnion
    from sklearn.svm import LinearSVC

    steps = getattr(pipeline, "steps", [])
    if len(steps) != 2:
        raise NotReplayableError("a text model is a vectorizer step, then a classifier")
    features, head = steps[0][1], steps[1][1]
    vectorizers = (
        [step for _, step in features.transformer_list]
        if isinstance(features, FeatureUnion)
        else [features]
    )
    parts, offset = [], 0
    for vectorizer in vectorizers:
        replay = _tfidf(vectorizer)
        parts.append((replay, offset))
        offset += replay.n_outputs
    link: Literal["logistic", "softmax"] | None = None
    if isinstance(head, LinearSVC | LogisticRegression):
        weights, intercept = head.coef_.T, np.atleast_1d(head.intercept_)
        if isinstance(head, LogisticRegression):
            link = "logistic" if len(head.classes_) == 2 else "softmax"
    elif isinstance(head, MultinomialNB):
        weights, intercept, link = head.feature_log_prob_.T, head.class_log_prior_, "softmax"
    else:
        raise NotReplayableError(f"{type(head).__name__} is not a linear text classifier")
    return TextLinearReplay(parts, np.ascontiguousarray(weights, dtype=np.float64),
                            np.asarray(intercept, dtype=np.float64), link)  # fmt: skip


EIGHT_BIT_STEPS = np.float32(255)


def eight_bit_codes(X: np.ndarray) -> np.ndarray | None:
    """`X` as uint8 codes when each value is exactly a code 0-255 over 255 in float32 (8-bit
    images scaled to [0, 1]), else None."""
    scaled = np.rint(np.asarray(X, dtype=np.float32) * EIGHT_BIT_STEPS)
    if scaled.size == 0 or scaled.min() < 0 or scaled.max() > 255:
        return None
    if not np.array_equal(scaled.astype(np.float32) / EIGHT_BIT_STEPS, X):
        return None
    return np.asarray(scaled, dtype=np.uint8)


@dataclass(frozen=True)
class KnnReplay:
    """KNeighborsClassifier (brute force, Euclidean): one matrix product against the
    training points, then `argpartition` for the k nearest and their weighted votes.

    With `integer_products` (training points and query both 8-bit codes over 255, as
    scaled images are), the product runs on the codes in ONNX Runtime, exactly in
    integers, reading a quarter of the float32 matrix's memory: a single query is bound
    by that read.
    """

    points: np.ndarray  # (n_train, n_features) float32, the estimator's own array
    squared_norms: np.ndarray  # (n_train,) float32
    labels: np.ndarray  # (n_train,) index into the classes
    n_classes: int
    k: int
    is_distance_weighted: bool
    integer_products: CompiledGraph | None = None  # `compiled.integer_product_graph`
    code_norms: np.ndarray | None = None  # (n_train,) int32: ‖codes‖² of the training points

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """(n, n_classes), as the classifier's `predict_proba` computes them."""
        X = np.asarray(X, dtype=np.float32)
        nearest = np.argpartition(self._ranking(X), self.k - 1, axis=1)[:, : self.k]
        weights = np.ones(nearest.shape)
        if self.is_distance_weighted:
            # Distances of the chosen few recomputed in float64, as scikit-learn's are.
            difference = self.points[nearest].astype(np.float64) - X[:, None, :]
            distance = np.sqrt(np.einsum("nkd,nkd->nk", difference, difference))
            exact = distance == 0  # a training point itself: it alone decides
            with np.errstate(divide="ignore"):  # its infinite weight is never used
                inverse = 1.0 / distance
            weights = np.where(exact.any(axis=1, keepdims=True), exact, inverse)
        votes = np.zeros((len(X), self.n_classes))
        np.add.at(votes, (np.arange(len(X))[:, None], self.labels[nearest]), weights)
        return np.asarray(votes / votes.sum(axis=1, keepdims=True))

    def _ranking(self, X: np.ndarray) -> np.ndarray:
        """‖x - p‖² of every training point p, less ‖x‖² (the same for all: it ranks no
        neighbour above another); in codes (255² times larger) when both are codes."""
        graph = self.integer_products
        codes = eight_bit_codes(X) if graph is not None else None
        if graph is None or codes is None:
            return np.asarray(self.squared_norms - 2.0 * (X @ self.points.T))
        products = graph.run({"input": codes})[0]
        return np.asarray(self.code_norms - 2 * products)


def replay_knn(classifier: Any, integer_products: CompiledGraph | None = None) -> KnnReplay:
    """A fitted KNeighborsClassifier with uniform or inverse-distance weights; with the
    `integer_product_graph` of its training points' codes when it has one."""
    metric = (classifier.effective_metric_, classifier.weights, classifier.outputs_2d_)
    if metric[0] != "euclidean" or metric[1] not in ("uniform", "distance") or metric[2]:
        raise NotReplayableError(f"k-NN with {metric} is not replayed")
    points = np.ascontiguousarray(classifier._fit_X, dtype=np.float32)
    code_norms = None
    if integer_products is not None:
        codes = eight_bit_codes(points)
        if codes is None:
            raise NotReplayableError("integer products need training points that are codes")
        wide = codes.astype(np.int32)
        code_norms = np.einsum("nd,nd->n", wide, wide)
    return KnnReplay(
        points, np.einsum("nd,nd->n", points, points), np.asarray(classifier._y),
        len(classifier.classes_), int(classifier.n_neighbors), classifier.weights == "distance",
        integer_products, code_norms,
    )  # fmt: skip
