"""Bodies and answers of SageMaker's inference routes, shared by `/invocations` and the
multi-model `/models/{name}/invoke`: a body becomes instances validated by the chosen
model's own input schema, and an answer is written in the media type `Accept` asks for.

    Content-Type        body
    application/json    {"instances": [...]} as on the predict route, or one instance object
    text/csv            one instance per line, columns in the input schema's order; a first
                        row of field names sets another order (optional columns may go)
    image/jpeg, png     the image file itself, for image models

    Accept              answer
    application/json    the predict route's body: {"model", "version", "predictions"}
    text/csv            a header of flattened output fields (`probabilities.cat`), a row each
"""

import csv
import datetime
import enum
import functools
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

from service.errors import error_body
from service.routes.predict import response_model
from service.runtime import LARGE_BODY_BYTES, InferenceResult, off_loop_when
from service.schemas import MAX_INSTANCES, error_responses
from training import AnyModelSpec
from training.data.images import MAX_IMAGE_BYTES, ImageTooLargeError, check_image
from training.schemas import ImageInput

JSON = "application/json"
CSV = "text/csv"
IMAGE_TYPES = ("image/jpeg", "image/png")

_SCALAR_TYPES = (str, int, float, bool, datetime.date, enum.Enum, type(None))

Loc = list[str | int]

INFERENCE_ERRORS = error_responses(
    (406, "Accept names neither application/json nor text/csv"),
    (413, "body over PRACTICA_MAX_BODY_BYTES (6,291,456 bytes by default, as SageMaker)"),
    (415, "Content-Type the chosen model does not take"),
    (422, "invalid instances: `detail` names each field (and CSV line) and the reason"),
)
"""What reading a body and choosing an answer's media type may refuse."""


class RefusedError(Exception):
    """A request this route cannot take, answered with the project's error body."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(self.detail, self.code), status_code=self.status)


# ----------------------------------------------------------------- one model's input


@dataclass(frozen=True)
class _CsvLayout:
    """How a CSV row becomes an instance of one model's input schema."""

    fields: tuple[str, ...]
    row_is_one_list: bool  # the only field is a list (MNIST's `pixels`): a row fills it
    literals: dict[str, dict[str, Any]]  # per field: cell text → literal value, e.g. "3" → 3

    @classmethod
    def of(cls, schema: type[BaseModel]) -> "_CsvLayout | None":
        """The layout of a tabular schema; None when CSV cannot express it."""
        if issubclass(schema, ImageInput):
            return None  # an image in a CSV cell helps nobody: the raw file is accepted
        fields = schema.model_fields
        if len(fields) == 1 and get_origin(next(iter(fields.values())).annotation) is list:
            return cls(tuple(fields), row_is_one_list=True, literals={})
        if not all(_is_scalar(field.annotation) for field in fields.values()):
            return None
        literals = {name: _literal_values(field.annotation) for name, field in fields.items()}
        return cls(tuple(fields), row_is_one_list=False, literals=literals)

    def instances(self, rows: list[tuple[int, list[str]]]) -> tuple[list[int], list[Any]]:
        """The line number and the raw instance of each data row."""
        columns = self.fields
        if rows and not self.row_is_one_list and self._is_header(rows[0][1]):
            columns, rows = tuple(rows[0][1]), rows[1:]
        return [line for line, _ in rows], [self._instance(line, columns, c) for line, c in rows]

    def _is_header(self, cells: list[str]) -> bool:
        return len(set(cells)) == len(cells) and set(cells) <= set(self.fields)

    def _instance(self, line: int, columns: tuple[str, ...], cells: list[str]) -> Any:
        if self.row_is_one_list:
            return {self.fields[0]: cells}
        if len(cells) != len(columns):
            raise _invalid(
                ["body", "line", line],
                f"expected {len(columns)} values ({', '.join(columns)}), got {len(cells)}; a "
                "first row of field names may name the columns you send",
                "csv_columns",
            )
        # An empty cell is a missing value: the field's default applies, or it is required.
        return {
            name: self.literals[name].get(cell, cell)
            for name, cell in zip(columns, cells, strict=True)
            if cell
        }


@dataclass(frozen=True)
class ModelInput:
    """What `/invocations` needs to read one model's instances, built once per model."""

    spec: AnyModelSpec
    batch: TypeAdapter[list[Any]]
    max_instances: int
    csv: _CsvLayout | None

    @classmethod
    def of(cls, spec: AnyModelSpec) -> "ModelInput":
        return cls(
            spec=spec,
            batch=TypeAdapter(list[spec.input_schema]),  # type: ignore[name-defined]
            max_instances=min(spec.max_batch_size, MAX_INSTANCES),
            csv=_CsvLayout.of(spec.input_schema),
        )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def takes_images(self) -> bool:
        return issubclass(self.spec.input_schema, ImageInput)


def _is_scalar(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Literal:
        return True
    if origin is Annotated:
        return _is_scalar(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return all(_is_scalar(arg) for arg in get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, _SCALAR_TYPES)


def _literal_values(annotation: Any) -> dict[str, Any]:
    """The literals a cell's text stands for: lax validation turns "3" into 3 for an `int`
    field, but never matches it with `Literal[1, 2, 3]`."""
    origin = get_origin(annotation)
    if origin is Literal:
        return {str(value): value for value in get_args(annotation) if not isinstance(value, str)}
    if origin is Annotated:
        return _literal_values(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return {k: v for arg in get_args(annotation) for k, v in _literal_values(arg).items()}
    return {}


# ----------------------------------------------------------------- request bodies


def _invalid(loc: Loc, message: str, kind: str) -> RequestValidationError:
    """A 422 in the shape of every other invalid input (see `service.errors`)."""
    return RequestValidationError([{"loc": loc, "msg": message, "type": kind}])


def _validated(
    model: ModelInput,
    items: list[Any],
    where: Loc,
    locate: Callable[[int], Loc],
    *,
    strict: bool = True,
) -> list[Any]:
    """`items` (found at `where`) validated by the model's input schema; `locate` gives the
    location of item i, so that each error names the instance (or CSV line) and its field.
    `strict=False` reads a CSV cell's text as the number or boolean its field takes."""
    if not items:
        raise _invalid(where, "send at least one instance", "too_short")
    if len(items) > model.max_instances:
        raise _invalid(
            where,
            f"{len(items)} instances: at most {model.max_instances} per request; split the batch",
            "too_long",
        )
    try:
        return model.batch.validate_python(items, strict=strict)
    except ValidationError as error:
        # The input is not echoed back, as on every route: it may be large, or private.
        issues = error.errors(include_url=False, include_input=False)
        located = [
            {"loc": [*locate(int(e["loc"][0])), *e["loc"][1:]], "msg": e["msg"], "type": e["type"]}
            for e in issues
        ]
        raise RequestValidationError(located) from None


def _json_instances(body: bytes, model: ModelInput) -> list[Any]:
    try:
        document = json.loads(body)
    except ValueError as error:  # JSONDecodeError, or bytes that are not UTF-8
        raise _invalid(["body"], f"the body is not valid JSON ({error})", "json_invalid") from None
    if isinstance(document, dict) and set(document) == {"instances"}:
        items = document["instances"]
        if not isinstance(items, list):
            raise _invalid(["body", "instances"], "must be a list of instances", "list_type")
        return _validated(model, items, ["body", "instances"], lambda i: ["body", "instances", i])
    if isinstance(document, dict):
        return _validated(model, [document], ["body"], lambda _: ["body"])
    raise _invalid(["body"], 'send {"instances": [...]} or one instance object', "model_type")


def _csv_rows(body: bytes) -> list[tuple[int, list[str]]]:
    """The non-blank rows with their line numbers, cells trimmed."""
    try:
        text = body.decode("utf-8-sig")  # a spreadsheet's byte-order mark is not data
    except UnicodeDecodeError:
        raise _invalid(["body"], "the CSV is not UTF-8 text", "csv_invalid") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if any(cells):
                rows.append((reader.line_num, cells))
    except csv.Error as error:
        raise _invalid(
            ["body", "line", reader.line_num], f"malformed CSV: {error}", "csv_invalid"
        ) from None
    return rows


def _csv_instances(body: bytes, model: ModelInput) -> list[Any]:
    if model.csv is None:
        send = "image/jpeg or image/png" if model.takes_images else "application/json"
        raise RefusedError(
            415,
            "unsupported_media_type",
            f"{model.name} takes no CSV (its input is not a flat row of fields): send {send}",
        )
    lines, items = model.csv.instances(_csv_rows(body))
    return _validated(model, items, ["body"], lambda i: ["body", "line", lines[i]], strict=False)


def _image_instances(body: bytes, model: ModelInput) -> list[Any]:
    if not model.takes_images:
        raise RefusedError(
            415,
            "unsupported_media_type",
            f"{model.name} takes no images: send application/json or text/csv",
        )
    if len(body) > MAX_IMAGE_BYTES:
        raise ImageTooLargeError(
            f"the image is over {MAX_IMAGE_BYTES:,} bytes: re-encode it smaller"
        )
    check_image(body)  # format, header and pixel limits: microseconds; decoding is the model's
    image_input: type[ImageInput] = model.spec.input_schema
    return [image_input.from_upload(body)]


_READERS: dict[str, Callable[[bytes, ModelInput], list[Any]]] = {
    JSON: _json_instances,
    CSV: _csv_instances,
    **dict.fromkeys(IMAGE_TYPES, _image_instances),
}


def _media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


async def read_instances(request: Request, model: ModelInput) -> list[Any]:
    media_type = _media_type(request.headers.get("content-type"))
    read = _READERS.get(media_type)
    if read is None:
        shown = media_type[:100] or "none"
        raise RefusedError(
            415,
            "unsupported_media_type",
            f"unsupported media type {shown!r}: send application/json, text/csv, "
            "or image/jpeg or image/png for an image model",
        )
    body = await request.body()
    return await off_loop_when(len(body) > LARGE_BODY_BYTES, functools.partial(read, body, model))


# ----------------------------------------------------------------- answers


def answer_type(accept: str | None) -> str:
    """JSON or CSV, whichever the Accept header prefers; JSON when it has no preference."""
    if accept is None or not accept.strip():
        return JSON
    for media_range in _by_preference(accept):
        if media_range in (JSON, "application/*", "*/*"):
            return JSON
        if media_range in (CSV, "text/*"):
            return CSV
    raise RefusedError(
        406,
        "not_acceptable",
        f"cannot answer as {accept[:100]!r}: accept application/json or text/csv",
    )


def _by_preference(accept: str) -> list[str]:
    """The media ranges of an Accept header, most preferred first; those with q=0 dropped."""
    ranked = []
    for position, part in enumerate(accept.split(",")):
        media_range, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, media_range.lower()))
    return [media_range for *_, media_range in sorted(ranked)]


def answer(answer_type: str, spec: AnyModelSpec, result: InferenceResult) -> Response:
    response: BaseModel = response_model(spec)(
        model=result.model, version=result.version, predictions=result.outputs
    )
    if answer_type == CSV:
        return Response(_csv_table(response.model_dump(mode="json")["predictions"]), media_type=CSV)
    return Response(response.model_dump_json(), media_type=JSON)


def _csv_table(predictions: list[Any]) -> str:
    """A header of every flattened field, then one row per prediction."""
    rows = [_flattened(prediction) for prediction in predictions]
    header = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_csv_cell(row.get(key)) for key in header] for row in rows)
    return out.getvalue()


def _flattened(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects and lists as dotted columns: `probabilities.cat`, `components.0`."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {prefix or "value": value}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(_flattened(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON answer
    return value


def request_body_docs(models: dict[str, ModelInput]) -> dict[str, Any]:
    """The accepted media types for /docs, with an example of the first model's input."""
    content: dict[str, Any] = {
        JSON: {"schema": {"type": "object"}},
        CSV: {"schema": {"type": "string"}},
        **{media: {"schema": {"type": "string", "format": "binary"}} for media in IMAGE_TYPES},
    }
    if models:
        first = next(iter(models.values()))
        example = first.spec.example_input.model_dump(mode="json")
        content[JSON]["example"] = {"instances": [example]}
        if first.csv is not None and not first.csv.row_is_one_list:
            content[CSV]["example"] = _csv_table([example])  # a header row, then the instance
    return {"required": True, "content": content}
