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
_WRITTEN = np.array(["Mr", "Mrs", "Mme", "Miss", "Mlle", "Ms", "Master"])
_TITLES = np.array(["Mr", "Mrs", "Mrs", "Miss", "Miss", "Miss", "Master"])
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
    a name without a comma and a period → 'Unknown'."""
    comma = np.strings.find(names, ",")
    period = np.strings.find(names, ".", comma + 1)  # the first one after the comma
    end = np.where(period < 0, np.strings.str_len(names), period)
    honorific = np.strings.strip(np.strings.slice(names, comma + 1, end))
    match = honorific[:, None] == _WRITTEN
    title = np.where(match.any(axis=1), _TITLES[match.argmax(axis=1)], "Rare")
    has_parts = (comma >= 0) & (np.strings.find(names, ".") >= 0)
    return np.where(has_parts, title, "Unknown")


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
        "deck": np.where(cabin == MISSING_TEXT, "U", np.strings.slice(cabin, 0, 1)),
    }
    return {name: out[name] for name in NUMERIC[feature_set] + CATEGORICAL[feature_set]}
