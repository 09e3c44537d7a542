"""Titanic feature sets, shared by training and serving (modules 8 and 13).

`basic` uses the columns as Kaggle gives them; `engineered` adds what module 13 teaches:
titles from names, family size, fare per person, binned age and the cabin's deck.
"""

from typing import Literal

import numpy as np
import pandas as pd

FeatureSet = Literal["basic", "engineered"]

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
_TITLES = {"Mr": "Mr", "Mrs": "Mrs", "Mme": "Mrs", "Miss": "Miss", "Mlle": "Miss", "Ms": "Miss",
           "Master": "Master"}  # fmt: skip
_AGE_BANDS = [0, 12, 18, 35, 60, np.inf]
_AGE_LABELS = ["child", "teen", "young_adult", "adult", "senior"]


def title_of(name: str) -> str:
    """'Braund, Mr. Owen Harris' → 'Mr'; rare honorifics (Dr, Rev, Countess…) → 'Rare'."""
    if "," not in name or "." not in name:
        return "Unknown"
    honorific = name.split(",", 1)[1].split(".", 1)[0].strip()
    return _TITLES.get(honorific, "Rare")


def features(frame: pd.DataFrame, feature_set: FeatureSet) -> pd.DataFrame:
    """The model's input columns from passenger rows in Kaggle's columns, lower-cased."""
    out = frame[NUMERIC["basic"] + CATEGORICAL["basic"]].copy()
    if feature_set == "basic":
        return out
    family_size = frame["sibsp"] + frame["parch"] + 1
    out["age_missing"] = frame["age"].isna().astype(float)
    out["family_size"] = family_size
    out["is_alone"] = (family_size == 1).astype(float)
    out["log_fare_per_person"] = np.log1p(frame["fare"] / family_size)
    out["title"] = frame["name"].fillna("").map(title_of)
    out["age_band"] = pd.cut(frame["age"], _AGE_BANDS, labels=_AGE_LABELS, right=False).astype(
        object
    )
    out["age_band"] = out["age_band"].where(frame["age"].notna(), "unknown")
    out["deck"] = frame["cabin"].fillna("U").astype(str).str[0].where(frame["cabin"].notna(), "U")
    return out[NUMERIC["engineered"] + CATEGORICAL["engineered"]]
