"""Titanic feature sets, shared by training and serving (modules 8 and 13).

`basic` uses the columns as Kaggle gives them; `engineered` adds what module 13 teaches:
titles from names, family size, fare per person, binned age and the cabin's deck.

Features are computed a column at a time over NumPy arrays: training runs `features` on
the whole CSV, a server on a request's batch, so the two cannot drift, and no DataFrame
is built per request. A missing number is NaN and a missing text is "" (MISSING_TEXT):
the model's imputers fill both.
"""

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

FeatureSet = Literal["basic", "engineered"]
Columns = dict[str, np.ndarray]
"""Arrays by column name, one entry per passenger: float64 numbers, str texts."""

NUMBER_COLUMNS = ("pclass", "age", "sibsp", "parch", "fare")
TEXT_COLUMNS = ("name", "sex", "cabin", "embarked")  # of Kaggle's; the ticket is not used
MISSING_TEXT = ""
NUMERIC = {
    "basic": ["pclass", "age", "sibsp", "parch", "fare"],
    "engineered": [
        "pclass",
        "age",
        "age_missing",
        "family_size",
        "is_alone",
        "log_fare_per_person",
    ],
}
CATEGORICAL = {
    "basic": ["sex", "embarked"],
    "engineered": ["sex", "embarked", "title", "age_band", "deck"],
}
# Honorifics as written → title; any other honorific is 'Rare'.
_TITLE_OF = {"Mr": "Mr", "Mrs": "Mrs", "Mme": "Mrs", "Miss": "Miss", "Mlle": "Miss",
             "Ms": "Miss", "Master": "Master"}  # fmt: skip
_AGE_EDGES = [12, 18, 35, 60]  # years; each band includes its lower edge
_AGE_LABELS = np.array(["child", "teen", "young_adult", "adult", "senior", "unknown"])


def passenger_columns(passengers: Sequence[Any]) -> Columns:
    """Kaggle's columns (lower case) as arrays, from objects with those attributes."""
    numbers = {
        column: np.array([getattr(p, column) for p in passengers], dtype=np.float64)
        for column in NUMBER_COLUMNS
    }  # None becomes NaN
    texts = {
        column: np.array([getattr(p, column) or MISSING_TEXT for p in passengers], dtype=str)
        for column in TEXT_COLUMNS
    }
    return numbers | texts


def titles(names: np.ndarray) -> np.ndarray:
    """'Braund, Mr. Owen Harris' → 'Mr'; rare honorifics (Dr, Rev, Countess…) → 'Rare';
    a name without a comma and a period → 'Unknown'.

    A string method per name: NumPy's string functions cost tens of microseconds a call
    whatever the length, more than a request's few names take this way (and the 891
    names of the training set take about a millisecond).
    """
    return np.array([_title(name) for name in names.tolist()], dtype=str)


def _title(name: str) -> str:
    _surname, comma, rest = name.partition(",")
    if not comma or "." not in name:
        return "Unknown"
    honorific = rest.partition(".")[0].strip()  # up to the first period after the comma
    return _TITLE_OF.get(honorific, "Rare")


def age_bands(age: np.ndarray) -> np.ndarray:
    """child (< 12), teen, young_adult (18-34), adult, senior (60+), or unknown."""
    band = np.searchsorted(_AGE_EDGES, age, side="right")
    return np.asarray(_AGE_LABELS[np.where(np.isnan(age), len(_AGE_LABELS) - 1, band)])


def features(columns: Columns, feature_set: FeatureSet) -> Columns:
    """The model's input columns, in NUMERIC then CATEGORICAL order, from Kaggle's."""
    out = {name: columns[name] for name in NUMERIC["basic"] + CATEGORICAL["basic"]}
    if feature_set == "basic":
        return out
    family_size = columns["sibsp"] + columns["parch"] + 1
    cabin = columns["cabin"]
    out |= {
        "age_missing": np.isnan(columns["age"]).astype(np.float64),
        "family_size": family_size,
        "is_alone": (family_size == 1).astype(np.float64),
        "log_fare_per_person": np.log1p(columns["fare"] / family_size),
        "title": titles(columns["name"]),
        "age_band": age_bands(columns["age"]),
        "deck": np.array([c[:1] if c != MISSING_TEXT else "U" for c in cabin.tolist()], dtype=str),
    }
    return {name: out[name] for name in NUMERIC[feature_set] + CATEGORICAL[feature_set]}
