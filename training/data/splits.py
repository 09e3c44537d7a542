"""Held-out splits shared by every model: one config, one split type, one function."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from pydantic import Field

from training.spec import TrainConfig

X = TypeVar("X")
Y = TypeVar("Y")


class SplitConfig(TrainConfig):
    """The split fields a model's config inherits: the held-out share and an optional sample."""

    test_size: float = Field(0.2, gt=0, lt=1, description="held-out share of the data")
    validation_size: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of the training part kept aside for early stopping (0: none)",
    )
    max_samples: int | None = Field(
        None, ge=40, description="stratified sample of the data to use; None uses all"
    )


@dataclass(frozen=True)
class Holdout(Generic[X]):
    """Training, optional validation and held-out test parts of one dataset.

    `X` is whatever the model reads (an array, a DataFrame, a list of texts); `y` are
    NumPy arrays. The validation part is empty unless the config asks for one.
    """

    X_train: X
    X_test: X
    y_train: np.ndarray
    y_test: np.ndarray
    X_val: X | None = None
    y_val: np.ndarray | None = None

    @property
    def validation(self) -> tuple[X, np.ndarray]:
        """The validation part; a config without `validation_size` has none."""
        if self.X_val is None or self.y_val is None:
            raise ValueError("this split has no validation part: set validation_size")
        return self.X_val, self.y_val

    def map(self, function: "Callable[[X], Y]") -> "Holdout[Y]":
        """The same rows with each part's `X` passed through `function`."""
        val = None if self.X_val is None else function(self.X_val)
        return Holdout(function(self.X_train), function(self.X_test), self.y_train, self.y_test,
                       val, self.y_val)  # fmt: skip


def holdout(X: Any, y: np.ndarray, config: SplitConfig, *, stratify: bool = True) -> Holdout[Any]:
    """Sample (when `max_samples` is set), then split off the test and validation parts.

    Stratified by `y` for classifiers so rare classes appear in every part; regressions
    pass `stratify=False`.
    """
    from sklearn.model_selection import train_test_split

    y = np.asarray(y)
    seed = config.random_state
    if config.max_samples is not None and config.max_samples < len(y):
        X, _, y, _ = train_test_split(
            X, y, train_size=config.max_samples, stratify=y if stratify else None,
            random_state=seed,
        )  # fmt: skip
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=config.test_size, stratify=y if stratify else None, random_state=seed
    )
    if config.validation_size == 0:
        return Holdout(X_train, X_test, y_train, y_test)
    X_train, X_val, y_train, y_val = train_test_split(
        X_train, y_train, test_size=config.validation_size,
        stratify=y_train if stratify else None, random_state=seed,
    )  # fmt: skip
    return Holdout(X_train, X_test, y_train, y_test, X_val, y_val)
