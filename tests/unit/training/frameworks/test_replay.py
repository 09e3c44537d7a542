"""The NumPy replays answer as the fitted scikit-learn steps they were read from."""

from typing import Any

import numpy as np
import pandas as pd
import pytest

from training.frameworks.compiled import CompiledGraph, integer_product_graph
from training.frameworks.replay import (
    EIGHT_BIT_STEPS,
    eight_bit_codes,
    replay_columns,
    replay_knn,
)
from training.spec import LoadContext

TITLES = [
    "Modern 2BR near Green Lake", "Cozy studio in Fremont", "Green Lake studio with view",
    "Fremont loft, modern and cozy", "View of the lake from a modern loft", "Café crème studio",
]  # fmt: skip
UNSEEN = ["", "   ", "words the vocabulary never saw", "modern modern modern loft", "CAFÉ"]


def _frame(titles: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(titles)
    size = rng.normal(60, 20, n)
    size[rng.random(n) < 0.3] = np.nan
    return pd.DataFrame({
        "size": size, "floor": rng.integers(0, 9, n).astype(float),
        "district": rng.choice(["north", "south", "east", "rare"], n, p=[0.4, 0.3, 0.28, 0.02]),
        "title": titles,
    })  # fmt: skip


def _transformer(**tfidf: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([
        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
        ("scale", StandardScaler()),
    ])  # fmt: skip
    # 'rare' districts share the infrequent column; unseen ones go there too.
    districts = OneHotEncoder(
        handle_unknown="infrequent_if_exist", min_frequency=3, sparse_output=False
    )
    text = TfidfVectorizer(ngram_range=(1, 2), strip_accents="unicode", **tfidf)
    return ColumnTransformer(
        [("numeric", numeric, ["size", "floor"]), ("categorical", districts, ["district"]),
         ("text", text, "title")],
        sparse_threshold=0.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    "tfidf",
    [
        {"sublinear_tf": True},
        {"norm": "l1"},
        {"norm": None, "use_idf": False},
        {"binary": True, "norm": "l2"},
    ],
    ids=["sublinear-l2", "l1", "raw-counts", "binary"],
)
def test_columns_replay_matches_the_fitted_transformer(tfidf: dict[str, Any]) -> None:
    train = _frame(TITLES * 20, seed=0)
    transformer = _transformer(**tfidf).fit(train)
    requests = _frame(TITLES + UNSEEN, seed=1)
    requests.loc[0, "district"] = "a district never seen"
    requests.loc[1, "size"] = np.nan
    expected = transformer.transform(requests)

    replay = replay_columns(transformer)
    actual = replay.transform({name: requests[name].to_numpy() for name in requests.columns})

    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)
    assert actual.shape == expected.shape


def test_columns_replay_of_one_row_is_that_row_of_a_batch() -> None:
    transformer = _transformer(sublinear_tf=True).fit(_frame(TITLES * 20, seed=0))
    replay = replay_columns(transformer)
    requests = _frame(TITLES + UNSEEN, seed=2)
    columns = {name: requests[name].to_numpy() for name in requests.columns}
    batch = replay.transform(columns)

    for row in range(len(requests)):
        alone = replay.transform({name: values[row : row + 1] for name, values in columns.items()})
        np.testing.assert_array_equal(alone[0], batch[row])


def test_columns_replay_reads_plain_values_as_it_reads_arrays() -> None:
    transformer = _transformer(sublinear_tf=True).fit(_frame(TITLES * 20, seed=0))
    replay = replay_columns(transformer)
    requests = _frame(TITLES + UNSEEN, seed=3)
    arrays = {name: requests[name].to_numpy() for name in requests.columns}
    as_given = {name: tuple(values.tolist()) for name, values in arrays.items()}

    np.testing.assert_array_equal(replay.transform(as_given), replay.transform(arrays))


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("on_codes", [False, True], ids=["float32", "integer-products"])
def test_knn_replay_matches_the_classifier_probabilities(weights: str, on_codes: bool) -> None:
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    points = rng.integers(0, 256, (300, 20)).astype(np.float32) / EIGHT_BIT_STEPS
    labels = rng.integers(0, 4, 300)
    queries = np.vstack([rng.integers(0, 256, (40, 20)) / 255, points[:5]]).astype(np.float32)
    classifier = KNeighborsClassifier(5, weights=weights, algorithm="brute").fit(points, labels)
    graph = None
    if on_codes:
        codes = eight_bit_codes(points)
        assert codes is not None
        graph = CompiledGraph(integer_product_graph(codes), LoadContext())

    replay = replay_knn(classifier, graph)
    actual = replay.probabilities(queries)

    np.testing.assert_allclose(actual, classifier.predict_proba(queries), rtol=1e-6)
    # Queries off the 8-bit grid are ranked by the float32 product instead.
    off_grid = queries + np.float32(1e-3)
    np.testing.assert_allclose(
        replay.probabilities(off_grid), classifier.predict_proba(off_grid), rtol=1e-6
    )


def test_integer_products_are_exact() -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (50, 784), dtype=np.uint8)
    queries = np.vstack([rng.integers(0, 256, (3, 784), dtype=np.uint8), np.full((1, 784), 255)])
    graph = CompiledGraph(integer_product_graph(codes), LoadContext())

    products = graph.run({"input": queries.astype(np.uint8)})[0]

    np.testing.assert_array_equal(products, queries.astype(np.int64) @ codes.T.astype(np.int64))


@pytest.mark.parametrize(
    "values",
    [[0.5], [-1 / 255], [256 / 255], [np.nan]],
    ids=["between-codes", "negative", "past-255", "nan"],
)
def test_only_exact_8_bit_values_are_codes(values: list[float]) -> None:
    assert eight_bit_codes(np.array(values, dtype=np.float32)) is None
    grid = np.arange(256, dtype=np.float32) / EIGHT_BIT_STEPS
    np.testing.assert_array_equal(eight_bit_codes(grid), np.arange(256))


@pytest.mark.parametrize(
    "settings",
    [
        {"ngram_range": (1, 2)},
        {"ngram_range": (1, 1)},
        {"ngram_range": (2, 2)},
        {"ngram_range": (1, 2), "lowercase": False, "strip_accents": "unicode"},
        # A pattern whose words hold spaces: its two-space terms send it to the analyzer.
        {"ngram_range": (1, 2), "token_pattern": r"[a-z]+ [a-z]+|\w+"},
        {"ngram_range": (1, 2), "stop_words": ["the", "of"]},
        {"ngram_range": (1, 3)},
        {"analyzer": "char_wb", "ngram_range": (2, 3)},
    ],
    ids=[
        "words-and-pairs",
        "words",
        "pairs",
        "cased",
        "spaced-words",
        "stop-words",
        "triples",
        "characters",
    ],
)
def test_text_terms_are_the_vectorizer_analyzers(settings: dict[str, Any]) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from training.frameworks.replay import _tfidf

    vectorizer = TfidfVectorizer(**settings).fit(TITLES * 3)
    replay = _tfidf(vectorizer)
    analyze, vocabulary = vectorizer.build_analyzer(), vectorizer.vocabulary_

    for text in [*TITLES, *UNSEEN, "modern loft modern loft of the lake", "view of the the lake"]:
        expected = sorted(vocabulary[t] for t in analyze(text) if t in vocabulary)
        assert sorted(replay.term_indices(text)) == expected, text


def test_word_pairs_are_looked_up_without_the_analyzer() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from training.frameworks.replay import _tfidf, _WordTerms

    words = _tfidf(TfidfVectorizer(ngram_range=(1, 2)).fit(TITLES)).term_indices
    spaced = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"[a-z]+ [a-z]+|\w+")
    assert isinstance(words, _WordTerms)
    assert not isinstance(_tfidf(spaced.fit(TITLES)).term_indices, _WordTerms)


def test_text_imputed_before_one_hot_is_replayed() -> None:
    """A missing text ('') is encoded as the category the imputer fills in; an unseen one
    sets no column."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    categorical = Pipeline([
        ("impute", SimpleImputer(strategy="most_frequent", missing_values="")),
        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ])  # fmt: skip
    train = pd.DataFrame(
        {"port": ["S", "S", "C", "Q", "", "S"], "deck": ["A", "B", "B", "C", "", ""]}
    )
    transformer = ColumnTransformer([("categorical", categorical, ["port", "deck"])]).fit(train)
    requests = pd.DataFrame({"port": ["", "C", "Z", "Q"], "deck": ["", "A", "C", "unseen"]})

    replay = replay_columns(transformer)
    actual = replay.transform({name: requests[name].to_numpy() for name in requests.columns})

    np.testing.assert_array_equal(actual, transformer.transform(requests))
    assert actual[0].sum() == 2  # both blanks became the most frequent category


def test_a_numeric_missing_marker_before_one_hot_is_not_replayed() -> None:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from training.frameworks.replay import NotReplayableError, _imputed_one_hot

    pipeline = Pipeline([
        ("impute", SimpleImputer(strategy="most_frequent")),  # NaN marks a missing text
        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ]).fit(pd.DataFrame({"port": ["S", "C", np.nan, "S"]}))  # fmt: skip
    with pytest.raises(NotReplayableError, match="text imputer"):
        _imputed_one_hot(pipeline, ["port"])
