import numpy as np
import pandas as pd
import pytest

from training.models._titanic import CATEGORICAL, NUMERIC, features, title_of
from training.models.titanic_survival import Passenger

KAGGLE_HEADER = "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked"


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
def test_title_of_groups_honorifics(name: str, title: str) -> None:
    assert title_of(name) == title


def test_features_engineered_from_raw_rows() -> None:
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


def test_passenger_fields_are_kaggle_columns_in_lower_case() -> None:
    # Training reads the CSV with its columns lower-cased; serving builds rows from Passenger.
    columns = {column.lower() for column in KAGGLE_HEADER.split(",")}
    assert set(Passenger.model_fields) == columns - {"passengerid", "survived"}
