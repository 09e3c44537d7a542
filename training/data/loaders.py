"""Dataset loaders over the project's `data/` folder (see data/README.md for provenance).

Every loader reads bytes once, records their sha256 on the run (lineage), and accepts a
`path` to a user's own copy of the full dataset in the same format.
"""

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from training.run import TrainingRun

BOSTON_FEATURES = (
    "crim",
    "zn",
    "indus",
    "chas",
    "nox",
    "rm",
    "age",
    "dis",
    "rad",
    "tax",
    "ptratio",
    "b",
    "lstat",
)


def data_dir() -> Path:
    """`PRACTICA_DATA_DIR`, else the `data/` folder of this checkout."""
    configured = os.environ.get("PRACTICA_DATA_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "data"


def read_dataset(run: TrainingRun, name: str, relative: str, path: Path | None = None) -> bytes:
    """The raw bytes of a dataset file, fingerprinted on the run."""
    source = path if path is not None else data_dir() / relative
    if not source.is_file():
        raise FileNotFoundError(
            f"dataset {name!r} not found at {source}; pass the file's path or set PRACTICA_DATA_DIR"
        )
    content = source.read_bytes()
    run.record_dataset(name, content)
    return content


def load_csv(run: TrainingRun, name: str, relative: str, path: Path | None = None) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(read_dataset(run, name, relative, path)))


def load_titanic(run: TrainingRun, path: Path | None = None) -> pd.DataFrame:
    """Kaggle's Titanic train split (891 passengers, `Survived` known)."""
    return load_csv(run, "titanic", "titanic/titanic.csv", path)


def load_iris(run: TrainingRun) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Fisher's Iris as shipped by scikit-learn: measurements (cm), species codes, names."""
    from sklearn.datasets import load_iris as sklearn_iris

    bunch = sklearn_iris()
    features = np.ascontiguousarray(bunch.data, dtype=np.float64)
    run.record_dataset("iris", features.tobytes() + bunch.target.astype(np.int64).tobytes())
    return features, bunch.target.astype(np.int64), list(bunch.target_names)


def load_boston(run: TrainingRun, path: Path | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Boston housing (506 tracts) without the `B` column; target in thousands of USD.

    The default copy is the one shipped by mlxtend. A user's CSV needs the 13 classic
    columns in lower case plus `medv`.
    """
    if path is not None:
        frame = load_csv(run, "boston_housing", "", path)
        target = frame.pop("medv").to_numpy(dtype=np.float64)
    else:
        from mlxtend.data import boston_housing_data

        X, target = boston_housing_data()
        run.record_dataset("boston_housing", np.ascontiguousarray(X).tobytes() + target.tobytes())
        frame = pd.DataFrame(X, columns=list(BOSTON_FEATURES))
    # `B` encodes the share of Black residents through a racist formula; it is dropped.
    return frame.drop(columns=["b"]), np.asarray(target, dtype=np.float64)


def load_mnist(run: TrainingRun, path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits as uint8 rows of 784 pixels (row-major 28x28) and labels 0-9.

    Default: the 5,000-image sample shipped by mlxtend. A user's full MNIST works as a
    CSV of `label,p0,...,p783` rows (the common Kaggle layout), header allowed.
    """
    if path is not None:
        content = read_dataset(run, "mnist", "", path)
        frame = pd.read_csv(io.BytesIO(content))
        labels = frame.iloc[:, 0].to_numpy(dtype=np.int64)
        pixels = frame.iloc[:, 1:].to_numpy(dtype=np.uint8)
    else:
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        pixels = np.asarray(X, dtype=np.uint8)
        labels = np.asarray(y, dtype=np.int64)
        run.record_dataset("mnist_5k", pixels.tobytes() + labels.tobytes())
    if pixels.shape[1] != 784:
        raise ValueError(f"MNIST rows need 784 pixels, got {pixels.shape[1]}")
    return pixels, labels


def load_netflix(run: TrainingRun, path: Path | None = None) -> pd.DataFrame:
    """Netflix titles (8,807 rows): type, title, people, country, dates, duration, genres."""
    return load_csv(run, "netflix_titles", "netflix/netflix_titles.csv", path)


def load_mall_customers(run: TrainingRun, path: Path | None = None) -> pd.DataFrame:
    """Mall customers (200 rows): gender, age, annual income (k$), spending score (1-100)."""
    return load_csv(run, "mall_customers", "mall_customers/Mall_Customers.csv", path)


def load_sms_spam(run: TrainingRun, path: Path | None = None) -> pd.DataFrame:
    """SMS Spam Collection v.1: columns `label` (spam/ham) and `text`, 5,574 messages."""
    content = read_dataset(run, "sms_spam", "sms_spam/SMSSpamCollection", path)
    rows = [line.split("\t", 1) for line in content.decode("utf-8").splitlines() if line.strip()]
    return pd.DataFrame(rows, columns=["label", "text"])


def load_loans(run: TrainingRun, path: Path | None = None) -> pd.DataFrame:
    """LendingClub loans 2007-2010 (9,578 rows); target `not.fully.paid`. Lines end in CR."""
    return load_csv(run, "lending_club", "lending_club/loan_data.csv", path)


def load_rt_polarity(run: TrainingRun, path: Path | None = None) -> pd.DataFrame:
    """Rotten Tomatoes sentence polarity: columns `text` and `label` (positive/negative).

    `path` is a folder holding `rt-polarity.pos` and `rt-polarity.neg`. The files are
    latin-1 and contain NEL bytes, so they are split on `\\n` only.
    """
    frames = []
    for label, suffix in (("positive", "pos"), ("negative", "neg")):
        file_path = path / f"rt-polarity.{suffix}" if path is not None else None
        content = read_dataset(
            run, f"rt_polarity_{suffix}", f"rt_polarity/rt-polarity.{suffix}", file_path
        )
        lines = [line.strip() for line in content.decode("latin-1").split("\n") if line.strip()]
        frames.append(pd.DataFrame({"text": lines, "label": label}))
    return pd.concat(frames, ignore_index=True)


def load_airbnb_listings(run: TrainingRun, path: Path | None = None) -> pd.DataFrame:
    """Inside Airbnb Seattle listings summary (6,772 rows, 18 columns; `price` as text)."""
    return load_csv(run, "airbnb_seattle_listings", "airbnb_seattle/listings.csv", path)


@dataclass(frozen=True)
class MovieLens:
    ratings: pd.DataFrame  # userId, movieId, rating (0.5 to 5 stars), timestamp (Unix seconds)
    movies: pd.DataFrame  # movieId, title ("Matrix, The (1999)"), genres ("Action|Sci-Fi")
    tags: pd.DataFrame  # userId, movieId, tag (free text), timestamp


def load_movielens(run: TrainingRun, path: Path | None = None) -> MovieLens:
    """MovieLens ml-latest-small: 100,836 ratings of 9,742 movies by 610 users, 3,683 tags.

    `path` is a folder holding `ratings.csv`, `movies.csv` and `tags.csv`, the layout of
    every MovieLens "latest" release.
    """

    def read(file: str) -> pd.DataFrame:
        own = path / f"{file}.csv" if path is not None else None
        return load_csv(run, f"movielens_{file}", f"movielens_latest_small/{file}.csv", own)

    return MovieLens(ratings=read("ratings"), movies=read("movies"), tags=read("tags"))
