"""The NumPy replays answer as the fitted scikit-learn steps they were read from."""

from typing import Any

import numpy as np
import pandas as pd
import pytest

from training.frameworks.replay import replay_columns, replay_knn

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


def test_knn_replay_matches_the_classifier_probabilities() -> None:
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    points = rng.integers(0, 256, (300, 20)).astype(np.float32) / np.float32(255)
    labels = rng.integers(0, 4, 300)
    queries = np.vstack([rng.integers(0, 256, (40, 20)) / 255, points[:5]]).astype(np.float32)
    for weights in ("uniform", "distance"):
        classifier = KNeighborsClassifier(5, weights=weights, algorithm="brute")
        classifier.fit(points, labels)

        actual = replay_knn(classifier).probabilities(queries)

        np.testing.assert_allclose(actual, classifier.predict_proba(queries), rtol=1e-6)
