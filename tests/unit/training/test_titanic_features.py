import numpy as np
import pandas as pd
import pytest

from training.titanic_features import CATEGORICAL, NUMERIC, features, title_of


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Braund, Mr. Owen Harris", "Mr"),
        ("Cumings, Mrs. John Bradley (Florence Briggs Thayer)", "Mrs"),
        ("Heikkinen, Miss. Laina", "Miss"),
        ("Palsson, Master. Gosta Leonard", "Master"),
        ("Aubart, Mme. Leontine Pauline", "Mrs"),
        ("Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)", "Rare"),
        ("Byles, Rev. Thomas Roussel Davids", "Rare"),
        ("no comma or period", "Unknown"),
    ],
)
def test_title_of(name: str, title: str) -> None:
    assert title_of(name) == title


def test_engineered_features_from_raw_rows() -> None:
    rows = pd.DataFrame({
        "pclass": [3, 1], "name": ["Doe, Master. Tim", "Smith, Mrs. Ann"], "sex": ["male", "female"],
        "age": [5.0, np.nan], "sibsp": [1, 0], "parch": [2, 0], "fare": [30.0, 80.0],
        "cabin": [None, "C85"], "embarked": ["S", None], "ticket": [None, None],
    })  # fmt: skip
    out = features(rows, "engineered")
    assert list(out.columns) == NUMERIC["engineered"] + CATEGORICAL["engineered"]
    assert out["family_size"].tolist() == [4, 1]
    assert out["is_alone"].tolist() == [0.0, 1.0]
    assert out["title"].tolist() == ["Master", "Mrs"]
    assert out["age_band"].tolist() == ["child", "unknown"]
    assert out["deck"].tolist() == ["U", "C"]
    assert out["log_fare_per_person"].round(4).tolist() == [
        round(np.log1p(7.5), 4),
        round(np.log1p(80), 4),
    ]
    assert list(features(rows, "basic").columns) == NUMERIC["basic"] + CATEGORICAL["basic"]
