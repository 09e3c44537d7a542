"""The try-it form of a model, generated from its input schema, and the instance a form means.

Each field of the schema becomes one input: a number box for numbers, a drop-down for a
closed set of values, a check box for a boolean, a text box or (for long text) a text
area for strings; lists and objects (a digit's 784 pixels, a contingency table) are typed
as JSON. An image model's form uploads a file instead. Reading a submitted form turns its
strings back into the values the schema expects; validation is then the model's own.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from training import AnyModelSpec, Schema
from training.schemas import ImageInput

FieldKind = Literal["number", "integer", "select", "checkbox", "text", "textarea", "json"]
LONG_TEXT_CHARS = 300
"""Strings that may be longer than this get a text area."""
UPLOAD_FIELD = "file"
"""The file input of an image model's form, named as on `POST /classify/{model}`."""


@dataclass(frozen=True)
class FormField:
    """One input of the form: what to show and how to read it back."""

    name: str
    label: str
    kind: FieldKind
    is_required: bool
    description: str = ""
    options: tuple[Any, ...] = ()
    """The values a drop-down offers, as the schema states them."""
    minimum: float | None = None
    maximum: float | None = None


class FormError(Exception):
    """The form cannot be read as an instance; `problems` maps each field to the reason."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems.items()))
        self.problems = problems


def is_upload(spec: AnyModelSpec) -> bool:
    """Whether the model takes an image, so its form uploads a file."""
    return issubclass(spec.input_schema, ImageInput)


def form_fields(spec: AnyModelSpec) -> list[FormField]:
    """The inputs of the model's form, in the schema's order (none for an upload)."""
    if is_upload(spec):
        return []
    schema = spec.input_schema.model_json_schema()
    required = set(schema.get("required", ()))
    return [_field(name, prop, name in required) for name, prop in schema["properties"].items()]


def _field(name: str, prop: dict[str, Any], is_required: bool) -> FormField:
    # `X | None` is `anyOf: [X, null]`: the form leaves it empty to send nothing.
    choices = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    shape = choices[0] if len(choices) == 1 else {}
    kind: FieldKind
    if "enum" in shape:
        kind = "select"
    elif shape.get("type") in ("number", "integer"):
        kind = shape["type"]
    elif shape.get("type") == "boolean":
        kind = "checkbox"
    elif shape.get("type") == "string":
        kind = "text" if shape.get("maxLength", 10**9) <= LONG_TEXT_CHARS else "textarea"
    else:
        kind = "json"
    return FormField(
        name=name,
        label=prop.get("title", name),
        kind=kind,
        is_required=is_required,
        description=prop.get("description", ""),
        options=tuple(shape.get("enum", ())),
        minimum=shape.get("minimum"),
        maximum=shape.get("maximum"),
    )


def example_values(spec: AnyModelSpec) -> dict[str, str]:
    """The model's example instance as the form shows it: each field's text."""
    if is_upload(spec):
        return {}
    example = spec.example_input.model_dump(mode="json", exclude_none=True)
    return {name: _as_text(value) for name, value in example.items()}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def read_instance(spec: AnyModelSpec, fields: list[FormField], form: Mapping[str, str]) -> Schema:
    """The instance a submitted form means, validated by the model's schema (or FormError)."""
    data: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for field in fields:
        text = form.get(field.name, "")
        try:
            value = _read(field, text)
        except ValueError as error:
            problems[field.name] = str(error)
            continue
        if value is not None:
            data[field.name] = value
    if problems:
        raise FormError(problems)
    try:
        instance: Schema = spec.input_schema.model_validate(data)
    except ValidationError as error:
        raise FormError(_problems(error)) from None
    return instance


def _read(field: FormField, text: str) -> Any:
    """The value of one input; None leaves the field out (its default, or 'required')."""
    if field.kind == "checkbox":
        return text != ""  # an unchecked box sends nothing
    if text.strip() == "":
        return None
    if field.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("enter a whole number") from None
    if field.kind == "number":
        try:
            return float(text)
        except ValueError:
            raise ValueError("enter a number") from None
    if field.kind == "select":
        for option in field.options:
            if str(option) == text:
                return option
        raise ValueError("choose one of the listed values")
    if field.kind == "json":
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError("enter a JSON value, like the example") from None
    return text


def _problems(error: ValidationError) -> dict[str, str]:
    problems: dict[str, str] = {}
    for issue in error.errors():
        field, *inner = [str(part) for part in issue["loc"]] or ["instance"]
        where = f"at {'.'.join(inner)}: " if inner else ""
        problems.setdefault(field, f"{where}{issue['msg']}")
    return problems
