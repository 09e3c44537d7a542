"""Integral numbers for strict schemas: JSON's `3.0` is the integer 3.

Request schemas validate strictly, so `"3"` and `true` are not numbers and `1` is not a
boolean: what the OpenAPI document says is what the server takes. JSON Schema's
`integer` does take `3.0`, which strict validation refuses, so before validating, a
schema turns integral floats into ints wherever its fields (or their list items) are ints;
and it keeps `true` from matching `Literal[1]`, which Python's `True == 1` would allow.
"""

from collections.abc import Callable, Sequence
from functools import cache
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

Convert = Callable[[Any], Any]


def _integral(value: Any) -> Any:
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _literal_integral(value: Any) -> Any:
    # `True == 1` in Python, so `Literal[1, 2, 3]` would take true: make it fail as text.
    return repr(value) if type(value) is bool else _integral(value)


def _items(convert: Convert) -> Convert:
    if convert is _integral:  # a list of numbers (784 pixels): scanned in C for a float

        def numbers(value: Any) -> Any:
            if not isinstance(value, list) or float not in map(type, value):
                return value
            return [_integral(item) for item in value]

        return numbers

    def items(value: Any) -> Any:
        return [convert(item) for item in value] if isinstance(value, list) else value

    return items


def converter(annotation: Any) -> Convert | None:
    """What turns integral floats into ints in a value of `annotation`; None: no int in it."""
    if annotation is int:
        return _integral
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return converter(args[0])
    if origin is Literal:
        return _literal_integral if any(type(arg) is int for arg in args) else None
    if origin in (Union, UnionType):
        if float in args:  # `int | float` takes 3.0 as it is
            return None
        found = [convert for arg in args if (convert := converter(arg)) is not None]
        return found[0] if found else None
    if origin in (list, tuple, Sequence) and args:
        inner = converter(args[0])
        return None if inner is None else _items(inner)
    return None


@cache
def integer_fields(schema: type[BaseModel]) -> dict[str, Convert]:
    """The converters of `schema`'s fields that hold ints, by field name."""
    found = {name: converter(field.annotation) for name, field in schema.model_fields.items()}
    return {name: convert for name, convert in found.items() if convert is not None}
