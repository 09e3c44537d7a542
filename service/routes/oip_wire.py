"""Bodies of the Open Inference Protocol's HTTP routes, with its binary tensor extension.

An infer request is JSON, or JSON followed by raw tensor data: the header
`Inference-Header-Content-Length` gives the JSON's length, and each input sent in binary
states its byte count in `parameters.binary_data_size`; its bytes follow in the order of
the inputs. Numbers are little-endian; a BYTES element is its length (4 bytes) then its
bytes. An answer uses the same layout for the outputs asked for in binary: those with
`parameters.binary_data: true`, or all when the request's `parameters.binary_data_output`
is true.
"""

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.routes.oip_tensors import FLOATS, INTEGERS, Tensor, TensorError, TensorSpec

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY = "application/octet-stream"
JSON = "application/json"

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BF16", "BYTES",
]  # fmt: skip
_NUMPY = {
    "BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}  # fmt: skip
_UNSUPPORTED_PARAMETERS = ("shared_memory_region", "classification")
MAX_ELEMENTS = 10_000_000
"""Elements (and rows at each level of a shape) one input may have; a body under the
default cap holds fewer."""


# ----------------------------------------------------------------- bodies (OpenAPI too)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RequestInput(_Body):
    name: str = Field(min_length=1, max_length=200)
    shape: list[Annotated[int, Field(ge=0)]] = Field(max_length=16)
    datatype: Datatype
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="`binary_data_size`: its data follows the JSON"
    )
    data: list[Any] | None = Field(None, description="the elements, flat or nested, row-major")


class RequestOutput(_Body):
    name: str = Field(min_length=1, max_length=200)
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="`binary_data`: answer this output in binary"
    )


class InferRequest(_Body):
    id: str | None = Field(None, max_length=200, description="echoed in the answer")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="`binary_data_output`: every output in binary"
    )
    inputs: list[RequestInput] = Field(min_length=1, max_length=64)
    outputs: list[RequestOutput] | None = Field(
        None, max_length=64, description="the outputs wanted; all when left out"
    )


class ResponseOutput(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int]
    parameters: dict[str, Any] | None = Field(None, description="`binary_data_size` if binary")
    data: list[Any] | None = Field(None, description="the elements, flat, row-major (JSON)")


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[ResponseOutput]


class TensorMetadata(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int] = Field(description="-1: any length; the first dimension is the batch")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str] = Field(description="the registered versions")
    platform: str = Field(description="`practica_<flavor>`: how the artifact is stored")
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ServerLive(BaseModel):
    live: bool


class ServerReady(BaseModel):
    ready: bool


class ModelReady(BaseModel):
    name: str
    ready: bool


class OipError(BaseModel):
    error: str


# ----------------------------------------------------------------- requests


@dataclass(frozen=True)
class InferCall:
    """A decoded infer request."""

    id: str | None
    inputs: list[Tensor]
    output_names: list[str] | None
    is_binary: dict[str, bool]  # per output name; absent: `binary_default`
    binary_default: bool


def read_request(body: bytes, header_length: str | None) -> InferCall:
    """The request's tensors; `TensorError` names what is wrong with it."""
    json_size = len(body)
    if header_length is not None:
        digits = header_length.isascii() and header_length.isdecimal()
        if not digits or int(header_length) > len(body):
            raise TensorError(
                f"{HEADER_LENGTH} must be the byte length of the JSON that starts the body "
                f"(at most {len(body)})"
            )
        json_size = int(header_length)
    try:
        request = InferRequest.model_validate_json(body[:json_size])
    except ValidationError as error:
        raise TensorError(_first_problems(error)) from None
    binary = memoryview(body)[json_size:]
    inputs = []
    for item in request.inputs:
        _refuse_unsupported(item.name, item.parameters)
        # Tensors are built level by level: a shape like [1, 10**12, 0] holds no element
        # yet would ask for 10**12 empty rows.
        if any(math.prod(item.shape[:k]) > MAX_ELEMENTS for k in range(1, len(item.shape) + 1)):
            raise TensorError(f"input {item.name!r}: shape {item.shape} is too large")
        size = item.parameters.get("binary_data_size")
        if size is not None:
            if item.data is not None:
                raise TensorError(f"input {item.name!r} has both `data` and binary_data_size")
            if type(size) is not int or not 0 <= size <= len(binary):
                raise TensorError(
                    f"input {item.name!r}: binary_data_size must be the byte count of its "
                    f"data, at most the {len(binary)} bytes left after the JSON"
                )
            data = _binary_elements(item, bytes(binary[:size]))
            binary = binary[size:]
        elif item.data is not None:
            data = _json_elements(item)
        else:
            raise TensorError(f"input {item.name!r} has no `data` and no binary_data_size")
        inputs.append(Tensor(item.name, item.datatype, tuple(item.shape), data))
    if len(binary):
        raise TensorError(f"{len(binary)} bytes after the JSON belong to no input")
    outputs = request.outputs
    is_binary = {}
    for output in outputs or ():
        _refuse_unsupported(output.name, output.parameters)
        is_binary[output.name] = _flag(output.parameters, "binary_data", output.name)
    return InferCall(
        id=request.id,
        inputs=inputs,
        output_names=None if outputs is None else [output.name for output in outputs],
        is_binary=is_binary,
        binary_default=_flag(request.parameters, "binary_data_output", "the request"),
    )


def _refuse_unsupported(name: str, parameters: dict[str, Any]) -> None:
    for parameter in _UNSUPPORTED_PARAMETERS:
        if parameters.get(parameter):
            raise TensorError(f"{name!r}: the {parameter} extension is not supported here")


def _flag(parameters: dict[str, Any], key: str, owner: str) -> bool:
    value = parameters.get(key, False)
    if not isinstance(value, bool):
        raise TensorError(f"{owner}: parameter {key} must be true or false")
    return value


def _binary_elements(item: RequestInput, raw: bytes) -> list[Any]:
    count = math.prod(item.shape)
    if item.datatype == "BYTES":
        return _bytes_elements(item.name, raw, count)
    if item.datatype not in _NUMPY:
        raise TensorError(f"input {item.name!r}: {item.datatype} is not supported")
    dtype = np.dtype(_NUMPY[item.datatype])
    if len(raw) != count * dtype.itemsize:
        raise TensorError(
            f"input {item.name!r}: shape {item.shape} of {item.datatype} takes "
            f"{count * dtype.itemsize} bytes, binary_data_size says {len(raw)}"
        )
    elements: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
    return elements


def _bytes_elements(name: str, raw: bytes, count: int) -> list[bytes]:
    elements: list[bytes] = []
    offset = 0
    while offset < len(raw) and len(elements) < count:
        if offset + 4 > len(raw):
            break
        (length,) = struct.unpack_from("<I", raw, offset)
        if offset + 4 + length > len(raw):
            break
        elements.append(raw[offset + 4 : offset + 4 + length])
        offset += 4 + length
    if len(elements) != count or offset != len(raw):
        raise TensorError(
            f"input {name!r}: the binary data is not {count} BYTES elements, each a 4-byte "
            "little-endian length followed by that many bytes"
        )
    return elements


def _json_elements(item: RequestInput) -> list[Any]:
    flat: list[Any] = []
    pending: list[Any] = [iter(item.data or [])]
    while pending:  # iterative, so deep nesting cannot exhaust the stack
        element = next(pending[-1], _END)
        if element is _END:
            pending.pop()
        elif isinstance(element, list):
            if len(pending) >= len(item.shape):
                raise TensorError(f"input {item.name!r}: `data` is nested deeper than its shape")
            pending.append(iter(element))
        else:
            flat.append(_json_element(item, element))
    if len(flat) != math.prod(item.shape):
        raise TensorError(
            f"input {item.name!r}: shape {item.shape} holds {math.prod(item.shape)} "
            f"elements, `data` has {len(flat)}"
        )
    return flat


_END = object()


def _json_element(item: RequestInput, element: Any) -> Any:
    datatype = item.datatype
    if datatype == "BYTES":
        is_valid = isinstance(element, str)
    elif datatype == "BOOL":
        is_valid = isinstance(element, bool)
    elif datatype in INTEGERS:
        is_valid = isinstance(element, int) and not isinstance(element, bool)
    elif datatype in FLOATS:
        is_valid = isinstance(element, int | float) and not isinstance(element, bool)
        element = float(element) if is_valid else element
    else:
        raise TensorError(f"input {item.name!r}: {datatype} must be sent in binary")
    if not is_valid:
        kind = {"BYTES": "strings", "BOOL": "true or false"}.get(
            datatype, "integers" if datatype in INTEGERS else "numbers"
        )
        raise TensorError(f"input {item.name!r}: {datatype} elements in JSON are {kind}")
    return element


def _first_problems(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in issue['loc']) or 'body'}: {issue['msg']}"
        for issue in error.errors(include_url=False, include_input=False)[:5]
    ]
    return "invalid infer request: " + "; ".join(problems)


# ----------------------------------------------------------------- answers


def infer_response(
    model: str,
    version: int,
    call: InferCall,
    columns: Sequence[tuple[TensorSpec, list[int], list[Any]]],
) -> Response:
    """The answer: JSON, or JSON then the binary outputs' data."""
    outputs = []
    blobs = []
    for spec, shape, flat in columns:
        output: dict[str, Any] = {"name": spec.name, "datatype": spec.datatype, "shape": shape}
        if call.is_binary.get(spec.name, call.binary_default):
            blob = _binary_data(spec.datatype, flat)
            output["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            output["data"] = flat
        outputs.append(output)
    body: dict[str, Any] = {"model_name": model, "model_version": str(version)}
    if call.id is not None:
        body["id"] = call.id
    body["outputs"] = outputs
    header = json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
    if not blobs:
        return Response(header, media_type=JSON)
    return Response(
        b"".join([header, *blobs]),
        media_type=BINARY,
        headers={HEADER_LENGTH: str(len(header))},
    )


def _binary_data(datatype: str, flat: list[Any]) -> bytes:
    if datatype == "BYTES":
        encoded = [str(element).encode() for element in flat]
        return b"".join(struct.pack("<I", len(item)) + item for item in encoded)
    return np.asarray(flat, dtype=_NUMPY[datatype]).tobytes()


def error_response(status: int, message: str) -> Response:
    return Response(OipError(error=message).model_dump_json(), status_code=status, media_type=JSON)
