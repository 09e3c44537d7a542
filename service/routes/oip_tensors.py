"""A model's typed instances and predictions as tensors of the Open Inference Protocol.

The tensors are derived from each model's own pydantic schemas, once, when the app is
created; `docs/api.md` ("Open Inference Protocol") tables the result for every model.

    field annotation                     datatype   shape of its tensor
    float                                FP64       [batch]   (accepts any FP/INT datatype)
    int, Literal[1, 2, 3]                INT64      [batch]   (accepts any INT/UINT datatype)
    bool                                 BOOL       [batch]
    str, Literal["a", "b"], date         BYTES      [batch]   (UTF-8)
    list[int] of fixed length n          INT64      [batch, n]; a variable length is -1
    list[list[int]]                      INT64      [batch, -1, -1]
    an image model's `image_base64`      BYTES      [batch], named `image`: the encoded
                                                    file (binary), or its base64 (JSON)
    a nested object (outputs)            one tensor per field, named by its path:
                                         `probabilities.cat`; a list of objects gives
                                         `recommendations.title`, [batch, k]

A scalar input may also come as [batch, 1]. An input with a default may be left out; in an
input whose field allows null, a NaN (FP) or an empty element (BYTES) is a missing value.
"""

import datetime
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import MaxLen, MinLen
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from service.schemas import MAX_INSTANCES
from training import AnyModelSpec
from training.data.images import MAX_IMAGE_BYTES, ImageTooLargeError, check_image
from training.schemas import ImageInput

INTEGERS = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
FLOATS = ("FP16", "FP32", "FP64")
ACCEPTED = {"FP64": FLOATS + INTEGERS, "INT64": INTEGERS, "BOOL": ("BOOL",), "BYTES": ("BYTES",)}
"""The datatypes a request may send for an input of each declared datatype."""
IMAGE_TENSOR = "image"
_MAX_ISSUES = 5  # validation problems named in one error message


class TensorError(ValueError):
    """Tensors that do not fit the model (names, datatypes, shapes, values): a 400."""


class UnsupportedSchemaError(TypeError):
    """A schema with a field no tensor can carry; the model is then not served on /v2."""


@dataclass(frozen=True)
class Tensor:
    """A decoded request tensor: its elements flat, in row-major order.

    Numbers are Python numbers; BYTES elements are `bytes` when sent in binary and `str`
    when sent in JSON.
    """

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: list[Any]


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of a model: where its values sit in an instance or a prediction."""

    name: str
    datatype: str
    dims: tuple[int, ...]  # per instance; -1 where the length varies
    keys: tuple[str, ...]  # field names from the instance (lists in between are mapped over)
    is_required: bool = True  # inputs: no default, so the tensor must be sent
    is_nullable: bool = False  # inputs: an element may be missing
    is_file: bool = False  # an image's BYTES: binary elements are files, not UTF-8 text

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": [-1, *self.dims]}

    def rows(self, tensor: Tensor) -> list[Any]:
        """The tensor's value for each instance, nested as the field's lists are."""
        if tensor.datatype not in ACCEPTED[self.datatype]:
            accepted = ", ".join(ACCEPTED[self.datatype])
            raise TensorError(
                f"input {self.name!r} is {tensor.datatype}, expected {self.datatype} "
                f"(accepted: {accepted})"
            )
        inner = tensor.shape[1:]
        if not self.dims and inner == (1,):
            inner = ()
        fits = len(inner) == len(self.dims) and all(
            want in (-1, got) for want, got in zip(self.dims, inner, strict=True)
        )
        if not fits:
            raise TensorError(
                f"input {self.name!r} has shape {list(tensor.shape)}: "
                f"expected {[-1, *self.dims]}" + (" or [-1, 1]" if not self.dims else "")
            )
        values = [self._value(element) for element in tensor.data]
        size = math.prod(inner)
        rows = [values[i * size : (i + 1) * size] for i in range(tensor.shape[0])]
        return [row[0] if not inner else _nested(row, inner) for row in rows]

    def _value(self, element: Any) -> Any:
        if self.is_nullable and (element in ("", b"") or _is_nan(element)):
            return None
        if isinstance(element, bytes) and not self.is_file:
            try:
                return element.decode()
            except UnicodeDecodeError:
                raise TensorError(f"input {self.name!r}: an element is not UTF-8 text") from None
        return element


@dataclass(frozen=True)
class ModelTensors:
    """How one model's instances and predictions travel as tensors."""

    spec: AnyModelSpec
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    batch: TypeAdapter[list[Any]]
    max_instances: int

    @classmethod
    def of(cls, spec: AnyModelSpec) -> "ModelTensors":
        """The model's tensors; `UnsupportedSchemaError` when a field has no tensor form."""
        schema = spec.input_schema
        if issubclass(schema, ImageInput):
            if set(schema.model_fields) != {"image_base64"}:
                raise UnsupportedSchemaError(f"{spec.name}: an image input with other fields")
            inputs: tuple[TensorSpec, ...] = (
                TensorSpec(IMAGE_TENSOR, "BYTES", (), ("image_base64",), is_file=True),
            )
        else:
            inputs = tuple(
                _input_tensor(field.alias or name, field)
                for name, field in schema.model_fields.items()
            )
        outputs = tuple(
            tensor
            for key, field in _serialized_fields(spec.output_schema)
            for tensor in _output_tensors((key,), field.annotation, field.metadata, ())
        )
        return cls(
            spec=spec,
            inputs=inputs,
            outputs=outputs,
            batch=TypeAdapter(list[schema]),  # type: ignore[valid-type]
            max_instances=min(spec.max_batch_size, MAX_INSTANCES),
        )

    @property
    def takes_images(self) -> bool:
        return issubclass(self.spec.input_schema, ImageInput)

    def instances(self, tensors: Sequence[Tensor]) -> list[Any]:
        """Validated instances of the model's input schema, one per row of the batch."""
        by_name: dict[str, Tensor] = {}
        for sent in tensors:
            if sent.name in by_name:
                raise TensorError(f"input {sent.name!r} is sent twice")
            by_name[sent.name] = sent
        known = {spec.name: spec for spec in self.inputs}
        unknown = [name for name in by_name if name not in known]
        if unknown:
            raise TensorError(
                f"{self.spec.name} has no input {unknown[0][:100]!r}; its inputs are "
                f"{', '.join(known)} (GET /v2/models/{self.spec.name} lists them)"
            )
        columns: dict[str, list[Any]] = {}
        size = 0
        for spec in self.inputs:
            tensor = by_name.get(spec.name)
            if tensor is None:
                if spec.is_required:
                    raise TensorError(f"input {spec.name!r} is missing")
                continue
            if not tensor.shape:
                raise TensorError(f"input {spec.name!r} has shape []: the first is the batch")
            if size and tensor.shape[0] != size:
                raise TensorError(
                    f"the inputs' first dimensions (the batch) differ: {spec.name!r} has "
                    f"{tensor.shape[0]}, the inputs before it {size}"
                )
            size = tensor.shape[0]
            if not 1 <= size <= self.max_instances:
                raise TensorError(
                    f"a batch of {size}: send 1 to {self.max_instances} instances per request"
                )
            columns[spec.keys[0]] = spec.rows(tensor)
        if self.takes_images:
            items: list[Any] = [
                self._upload(value) if isinstance(value, bytes) else {"image_base64": value}
                for value in columns["image_base64"]
            ]
        else:
            items = [{key: rows[i] for key, rows in columns.items()} for i in range(size)]
        try:
            # A tensor's declared datatype, not JSON's, says what its numbers are: an FP32
            # tensor may feed an integer field with 3.0, a BOOL one arrive as 0 and 1.
            return self.batch.validate_python(items, strict=False)
        except ValidationError as error:
            raise TensorError(_describe(error, self.inputs)) from None

    def _upload(self, data: bytes) -> ImageInput:
        """An instance for an image file, checked up to its header: the model decodes it."""
        if len(data) > MAX_IMAGE_BYTES:
            raise ImageTooLargeError(
                f"an image is over {MAX_IMAGE_BYTES:,} bytes: re-encode it smaller"
            )
        check_image(data)  # format, header and pixel limits: microseconds
        schema: type[ImageInput] = self.spec.input_schema
        return schema.from_upload(data)

    def output_columns(
        self, predictions: Sequence[Any], names: Sequence[str] | None
    ) -> list[tuple[TensorSpec, list[int], list[Any]]]:
        """Each wanted output tensor with its shape and its elements flat (row-major)."""
        specs = {spec.name: spec for spec in self.outputs}
        for name in names or ():
            if name not in specs:
                raise TensorError(
                    f"{self.spec.name} has no output {name[:100]!r}; its outputs are "
                    f"{', '.join(specs)}"
                )
        dumped = [prediction.model_dump(mode="json") for prediction in predictions]
        columns = []
        for spec in self.outputs if names is None else [specs[name] for name in names]:
            values = [_pluck(prediction, spec.keys) for prediction in dumped]
            shape, flat = _flattened(spec, values)
            columns.append((spec, shape, flat))
        return columns

    def example_request(self) -> dict[str, Any]:
        """The JSON infer request of the model's example instance (for /docs)."""
        instance = self.spec.example_input.model_dump(mode="json", exclude_none=True, by_alias=True)
        inputs = []
        for spec in self.inputs:
            if spec.keys[0] in instance:
                value = instance[spec.keys[0]]
                shape, data = _flattened(spec, [value])
                inputs.append(
                    {"name": spec.name, "shape": shape, "datatype": spec.datatype, "data": data}
                )
        return {"inputs": inputs}


# ----------------------------------------------------------------- schema → tensors


def _input_tensor(name: str, field: FieldInfo) -> TensorSpec:
    annotation, is_nullable = _without_none(field.annotation)
    datatype, dims = _element_type(name, annotation, field.metadata)
    return TensorSpec(
        name, datatype, dims, (name,), is_required=field.is_required(), is_nullable=is_nullable
    )


def _output_tensors(
    keys: tuple[str, ...], annotation: Any, metadata: list[Any], dims: tuple[int, ...]
) -> list[TensorSpec]:
    annotation, metadata = _unannotated(annotation, metadata)
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return _output_tensors(keys, item, [], (*dims, _fixed_length(metadata)))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [
            tensor
            for key, field in _serialized_fields(annotation)
            for tensor in _output_tensors((*keys, key), field.annotation, field.metadata, dims)
        ]
    datatype, inner = _element_type(".".join(keys), annotation, metadata)
    return [TensorSpec(".".join(keys), datatype, (*dims, *inner), keys)]


def _serialized_fields(schema: type[BaseModel]) -> list[tuple[str, FieldInfo]]:
    """The fields with the keys a dump writes: aliases where the schema serialises by them
    (news-topic's `Sci/Tech`)."""
    by_alias = schema.model_config.get("serialize_by_alias", False)
    return [
        ((field.serialization_alias or field.alias or name) if by_alias else name, field)
        for name, field in schema.model_fields.items()
    ]


def _element_type(name: str, annotation: Any, metadata: list[Any]) -> tuple[str, tuple[int, ...]]:
    """The datatype of a field's scalars, and the lengths of the lists around them."""
    annotation, metadata = _unannotated(annotation, metadata)
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        datatype, inner = _element_type(name, item, [])
        return datatype, (_fixed_length(metadata), *inner)
    if get_origin(annotation) is Literal:
        kinds = {_scalar_datatype(type(value)) for value in get_args(annotation)}
        literal_type = kinds.pop() if len(kinds) == 1 else None
        if literal_type is not None:
            return literal_type, ()
    elif isinstance(annotation, type) and (scalar := _scalar_datatype(annotation)):
        return scalar, ()
    raise UnsupportedSchemaError(f"field {name!r}: {annotation!r} has no tensor datatype")


def _scalar_datatype(kind: type) -> str | None:
    if issubclass(kind, enum.Enum):
        return None  # none in the catalog; its values' type would decide
    if issubclass(kind, bool):
        return "BOOL"
    if issubclass(kind, int):
        return "INT64"
    if issubclass(kind, float):
        return "FP64"
    if issubclass(kind, str | datetime.date):
        return "BYTES"
    return None


def _unannotated(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """`Annotated[X, ...]` → X, with its constraints added to `metadata`."""
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        for item in extra:
            metadata = [*metadata, *(item.metadata if isinstance(item, FieldInfo) else [item])]
    return annotation, metadata


def _without_none(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, UnionType):
        members = [arg for arg in get_args(annotation) if arg is not NoneType]
        if len(members) == 1:
            return members[0], len(members) < len(get_args(annotation))
    return annotation, False


def _fixed_length(metadata: list[Any]) -> int:
    """n for a list that must hold exactly n items, else -1."""
    lows = [item.min_length for item in metadata if isinstance(item, MinLen)]
    highs = [item.max_length for item in metadata if isinstance(item, MaxLen)]
    return lows[0] if lows and highs and lows[0] == highs[0] else -1


# ----------------------------------------------------------------- values


def _nested(flat: list[Any], dims: tuple[int, ...]) -> list[Any]:
    """A flat row-major list as nested lists of `dims`."""
    if len(dims) == 1:
        return flat
    step = math.prod(dims[1:])
    return [_nested(flat[i * step : (i + 1) * step], dims[1:]) for i in range(dims[0])]


def _pluck(value: Any, keys: tuple[str, ...]) -> Any:
    """The value at `keys`, mapped over the lists on the way (`recommendations.title`)."""
    if not keys:
        return value
    if isinstance(value, list):
        return [_pluck(item, keys) for item in value]
    return _pluck(value[keys[0]], keys[1:])


def _flattened(spec: TensorSpec, values: list[Any]) -> tuple[list[int], list[Any]]:
    """The shape and flat elements of a batch of values; refused when ragged."""
    shape = [len(values)]
    level = values
    for _ in spec.dims:
        lengths = {len(item) for item in level}
        if len(lengths) > 1:
            raise TensorError(
                f"output {spec.name!r} has a different length for each instance of this "
                "batch, and a tensor is rectangular: send these instances one per request, "
                "or ask for other outputs"
            )
        shape.append(lengths.pop() if lengths else 0)
        level = [item for items in level for item in items]
    return shape, level


def _is_nan(element: Any) -> bool:
    return isinstance(element, float) and math.isnan(element)


def _describe(error: ValidationError, inputs: Sequence[TensorSpec]) -> str:
    """The validation problems named by input tensor and instance, the input not echoed."""
    tensors = {spec.keys[0]: spec.name for spec in inputs}
    problems = []
    for issue in error.errors(include_url=False, include_input=False)[:_MAX_ISSUES]:
        loc = list(issue["loc"])
        instance = loc.pop(0) if loc else None
        field = str(loc.pop(0)) if loc else None
        where = f"input {tensors.get(field, field)!r}" if field else "an instance"
        if instance is not None:
            where += f", instance {instance}"
        if loc:
            where += f" at {loc}"
        problems.append(f"{where}: {issue['msg']}")
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
