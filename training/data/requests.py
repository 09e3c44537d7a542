"""Rows of a dataset as the API receives them: re-scoring a version sends its held-out rows."""

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def request_records(frame: "pd.DataFrame") -> list[dict[str, Any]]:
    """One JSON-ready instance per row: Python values, and null where a value is missing."""
    return [
        {str(name): _json_value(value) for name, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _json_value(value: Any) -> Any:
    if hasattr(value, "item"):  # a NumPy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
