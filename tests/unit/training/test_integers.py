"""Strict request schemas take JSON's integral floats as integers, and nothing else."""

from typing import Literal

import pytest
from pydantic import Field, ValidationError

from training.spec import Schema


class Counts(Schema):
    count: int = Field(ge=0)
    optional: int | None = None
    pixels: list[int] = Field(default_factory=list)
    table: list[list[int]] = Field(default_factory=list)
    klass: Literal[1, 2, 3] = 1
    ratio: float | int = 0.5


def test_integral_floats_are_integers_at_any_depth() -> None:
    counts = Counts.model_validate(
        {"count": 3.0, "optional": 2.0, "pixels": [0, 255.0, 7], "table": [[1.0, 2], [3, 4.0]],
         "klass": 2.0, "ratio": 2.0}
    )  # fmt: skip
    assert counts.model_dump() == {
        "count": 3, "optional": 2, "pixels": [0, 255, 7], "table": [[1, 2], [3, 4]],
        "klass": 2, "ratio": 2.0,
    }  # fmt: skip
    assert type(counts.count) is int
    assert all(type(pixel) is int for pixel in counts.pixels)
    assert type(counts.ratio) is float  # `int | float` keeps the number it was given


@pytest.mark.parametrize(
    ("field", "value"),
    [("count", 3.5), ("count", "3"), ("count", True), ("pixels", [0, 1.5]),
     ("pixels", [0, "1"]), ("table", [[1, 2.5]]), ("klass", True), ("klass", "1")],
)  # fmt: skip
def test_anything_else_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Counts.model_validate({"count": 1, field: value})
    assert raised.value.errors()[0]["loc"][0] == field
