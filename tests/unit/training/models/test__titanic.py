import numpy as np
import pytest

from training.models._titanic import (
    CATEGORICAL,
    NUMERIC,
    age_bands,
    features,
    passenger_columns,
    titles,
)
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
        ("Comma, but no period", "Unknown"),
        ("Period. Before, Mr the comma", "Rare"),  # the honorific runs to the end
        ("Spaced,   Mlle .  Marie", "Miss"),
        ("", "Unknown"),
    ],
)
def test_titles_group_honorifics(name: str, title: str) -> None:
    assert titles(np.array([name, name])).tolist() == [title, title]


def test_age_bands_include_their_lower_edge() -> None:
    ages = np.array([0.4, 11.9, 12, 17.5, 18, 34.9, 35, 59, 60, 120, np.nan])
    assert age_bands(ages).tolist() == [
        "child", "child", "teen", "teen", "young_adult", "young_adult", "adult", "adult",
        "senior", "senior", "unknown",
    ]  # fmt: skip


def test_features_engineered_from_raw_rows() -> None:
    rows = [
        Passenger(pclass=3, name="Doe, Master. Tim", sex="male", age=5.0, sibsp=1, parch=2,
                  fare=30.0, cabin=None, embarked="S"),
        Passenger(pclass=1, name="Smith, Mrs. Ann", sex="female", age=None, sibsp=0, parch=0,
                  fare=80.0, cabin="C85", embarked=None),
    ]  # fmt: skip
    out = features(passenger_columns(rows), "engineered")
    assert list(out) == NUMERIC["engineered"] + CATEGORICAL["engineered"]
    assert out["family_size"].tolist() == [4, 1]
    assert out["is_alone"].tolist() == [0.0, 1.0]
    assert out["title"].tolist() == ["Master", "Mrs"]
    assert out["age_band"].tolist() == ["child", "unknown"]
    assert out["deck"].tolist() == ["U", "C"]
    assert out["embarked"].tolist() == ["S", ""], "a missing text is left for the imputer"
    assert out["age_missing"].tolist() == [0.0, 1.0]
    assert out["log_fare_per_person"].round(4).tolist() == [
        round(np.log1p(7.5), 4),
        round(np.log1p(80), 4),
    ]
    assert list(features(passenger_columns(rows), "basic")) == (
        NUMERIC["basic"] + CATEGORICAL["basic"]
    )


def test_passenger_fields_are_kaggle_columns_in_lower_case() -> None:
    # Training reads the CSV with its columns lower-cased; serving builds rows from Passenger.
    columns = {column.lower() for column in KAGGLE_HEADER.split(",")}
    assert set(Passenger.model_fields) == columns - {"passengerid", "survived"}
