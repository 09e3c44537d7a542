"""What the MNIST models share: the request schema, its example digit, pixel scaling, split,
and the held-out digits as requests."""

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from training.data import Holdout, SplitConfig, holdout
from training.data.loaders import load_mnist
from training.run import TrainingRun
from training.schemas import Pixels
from training.spec import HeldOut, Schema

Probability = Annotated[float, Field(ge=0, le=1)]


class DigitImage(Schema):
    """A hand-written digit, drawn like MNIST: white on black, centred in a 28x28 box."""

    pixels: Pixels


class DigitPrediction(Schema):
    digit: int = Field(ge=0, le=9, description="the most probable digit")
    probabilities: list[Probability] = Field(
        min_length=10,
        max_length=10,
        description="probability of each digit, in digit order: index 0 is P(0), index 9 is P(9)",
    )


def scale_pixels(pixels: np.ndarray) -> np.ndarray:
    """Intensities 0-255 to [0, 1] as float32: the input scale of every MNIST model."""
    return np.asarray(pixels, dtype=np.float32) / np.float32(255.0)


def pixel_matrix(batch: Sequence[DigitImage]) -> np.ndarray:
    """A request batch as scaled rows of 784 pixels."""
    return scale_pixels(np.array([image.pixels for image in batch], dtype=np.uint8))


def split_mnist(
    run: TrainingRun, config: SplitConfig, dtype: type[np.floating[Any]] = np.float32
) -> Holdout[np.ndarray]:
    """Scaled MNIST images split into stratified training and held-out parts."""
    pixels, labels = load_mnist(run, run.data_path)
    return holdout(scale_pixels(pixels).astype(dtype, copy=False), labels, config)


def held_out_digits(run: TrainingRun, config: SplitConfig) -> HeldOut:
    """The digits `split_mnist` holds out, as posted (784 ints 0-255), scored by accuracy."""
    from sklearn.metrics import accuracy_score

    pixels, labels = load_mnist(run, run.data_path)
    split = holdout(pixels, labels, config)  # the rows `split_mnist` holds out, unscaled

    def score(answers: list[dict[str, Any]]) -> dict[str, float]:
        predicted = [answer["digit"] for answer in answers]
        return {"test_accuracy": float(accuracy_score(split.y_test, predicted))}

    return HeldOut([{"pixels": row.tolist()} for row in split.X_test], score)


def shifted_copies(data: Holdout[np.ndarray]) -> Holdout[np.ndarray]:
    """`data` with its training digits also moved one pixel up, down, left and right.

    A few thousand digits are few for a network: shifted copies teach it that a stroke's
    exact position does not matter.
    """
    square = data.X_train.reshape(-1, 28, 28)
    shifted = [np.roll(square, step, axis) for axis in (1, 2) for step in (-1, 1)]
    augmented = np.concatenate([square, *shifted]).reshape(-1, 784)
    return replace(data, X_train=augmented, y_train=np.tile(data.y_train, 5))


def knn_accuracy(data: Holdout[np.ndarray]) -> float:
    """Held-out accuracy of mnist-knn's usual model (3 neighbours weighted by distance)."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=3, weights="distance", algorithm="brute")
    return float((knn.fit(data.X_train, data.y_train).predict(data.X_test) == data.y_test).mean())


def digit_predictions(classes: np.ndarray, probabilities: np.ndarray) -> list[DigitPrediction]:
    """Predictions from a classifier's `predict_proba` over its `classes_`.

    A model trained on a sample that lacks a digit has fewer columns than ten: that digit
    gets probability 0.
    """
    full = np.zeros((len(probabilities), 10))
    full[:, np.asarray(classes, dtype=np.int64)] = probabilities
    digits = full.argmax(axis=1)
    rounded = np.clip(full, 0.0, 1.0).round(6)
    return [
        DigitPrediction(digit=int(digit), probabilities=row.tolist())
        for digit, row in zip(digits, rounded, strict=True)
    ]


def _draw(strokes: Sequence[tuple[tuple[float, float], tuple[float, float]]]) -> list[int]:
    """A 28x28 image of pen strokes: full ink within 1.2 pixels of a stroke, grey at its edge."""
    rows, cols = np.mgrid[0:28, 0:28]
    points = np.stack([rows.ravel(), cols.ravel()], axis=1).astype(np.float64)
    distance = np.full(len(points), np.inf)
    for start, end in strokes:
        a, b = np.array(start), np.array(end)
        t = np.clip((points - a) @ (b - a) / ((b - a) @ (b - a)), 0.0, 1.0)
        distance = np.minimum(distance, np.linalg.norm(points - (a + t[:, None] * (b - a)), axis=1))
    ink = np.clip(2.2 - distance, 0.0, 1.0)
    return [int(value) for value in np.round(ink * 255)]


EXAMPLE_DIGIT: list[int] = _draw((((8.0, 7.0), (8.0, 20.0)), ((8.0, 20.0), (25.0, 11.0))))
"""A seven as (row, column) pen strokes: the OpenAPI example of every MNIST model."""
