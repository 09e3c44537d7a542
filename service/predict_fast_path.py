"""The predict routes' fast path: `POST /v1/models/{name}/predict` without FastAPI's
routing and dependency solving.

Those two cost more than the rest of a request: the router tries every route of the app
in turn (over a hundred) and the dependency solver inspects each parameter anew, about
0.2 ms together where a compiled model answers in tens of microseconds. This ASGI layer
sits just inside `RequestMiddleware` (request id, body cap, media type, metrics and
access log still apply) and outside FastAPI's own middleware (`PracticaApp`). It answers
a predict route's requests itself, with the route's own request and response models,
the same query constraints, the same token check, and the same error bodies
(`service.errors.error_response`). The FastAPI route stays: it documents the endpoint
in `/openapi.json`, and a test drives both with the same requests and compares every
answer.

The order of checks is FastAPI's: the body is read and parsed, then the token checked,
then the query and the body validated together (one 422 names the invalid fields of
both, the first `MAX_LISTED_ERRORS` of them).
"""

import contextlib
import functools
import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import ListedValidationError, error_response, unexpected_error_response
from service.routes.predict import (
    PinQuery,
    predict_answer,
    predict_path,
    request_model,
)
from service.runtime import LARGE_BODY_BYTES, off_loop_when
from service.schemas import MAX_LISTED_ERRORS
from service.security import check_token
from training import AnyModelSpec, AnySpec, ModelSpec

_JSON_HEADERS = [(b"content-type", b"application/json")]
_TWENTY_DIGITS = re.compile(rb"[0-9]{20}")
_EMPTY = object()  # no body at all, which FastAPI reports as missing (`null` is a value)


@dataclass(frozen=True, slots=True)
class _Target:
    spec: AnyModelSpec
    path: str  # `scope["route"]`'s, as FastAPI's router would set it: metrics name the route
    request_type: type[BaseModel]


class PredictFastPath:
    """Answers the predict routes' POSTs; passes every other request on to the app."""

    def __init__(self, app: ASGIApp, *, catalog: Iterable[AnySpec]) -> None:
        self.app = app
        self._targets = {
            path: _Target(spec, path, request_model(spec))
            for spec in catalog
            if isinstance(spec, ModelSpec)
            for path in [predict_path(spec)]
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self._targets.get(scope["path"]) if scope["type"] == "http" else None
        if target is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = target
        try:
            answer = await self._answer(target, scope, receive)
        except Exception as error:
            # This layer runs outside FastAPI's error middleware (`PracticaApp`): it answers
            # an unexpected error itself, as that middleware would.
            response = error_response(error) or unexpected_error_response(
                scope["method"], scope["path"]
            )
            await response(scope, receive, send)
            return
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [*_JSON_HEADERS, (b"content-length", b"%d" % len(answer))],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": answer})

    async def _answer(self, target: _Target, scope: Scope, receive: Receive) -> bytes:
        raw = await _read_body(receive)
        # A large body is parsed and validated in the thread pool, so that the event loop
        # goes on answering other requests; a small one costs less than the hop.
        is_large = len(raw) > LARGE_BODY_BYTES
        body = await off_loop_when(is_large, functools.partial(_parse, raw))
        state = scope["app"].state
        token = state.settings.api_token
        if token is not None:
            check_token(_bearer(scope["headers"]), token.get_secret_value(), "API")
        pin, errors = _validate_query(scope["query_string"])
        if body is _EMPTY:
            errors.append({"type": "missing", "loc": ("body",), "msg": "Field required"})
            raise ListedValidationError(errors, len(errors))
        validate = functools.partial(_instances, target.request_type, body)
        instances, invalid, count = await off_loop_when(is_large, validate)
        if errors or invalid:
            raise ListedValidationError(errors + invalid, len(errors) + count)
        return await predict_answer(state.inference, target.spec, instances, pin)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPException(400, "There was an error parsing the body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse(body: bytes) -> Any:
    """The body as FastAPI reads it (`json.loads`), or `_EMPTY` when there is none.

    orjson reads a small body in a fifth of the time, and reads it the same wherever it
    reads it at all: it refuses what only `json.loads` accepts (NaN, infinities, lone
    surrogates, UTF-16, a byte-order mark), and those bodies go to `json.loads`. The one
    silent difference is an integer beyond 64 bits, which orjson makes a float: a body
    holding 20 digits in a row (such an integer, or a long fraction) goes to `json.loads`.
    """
    if not body:
        return _EMPTY
    if _TWENTY_DIGITS.search(body) is None:
        # What orjson refuses, json.loads decides: it may accept it, or it locates the error.
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(body)
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise RequestValidationError([{
            "type": "json_invalid", "loc": ("body", error.pos), "msg": "JSON decode error",
        }]) from error  # fmt: skip
    except Exception as error:  # not text, or nested past the recursion limit
        raise HTTPException(400, "There was an error parsing the body") from error


def _instances(request_type: type[BaseModel], body: Any) -> tuple[Any, list[dict[str, Any]], int]:
    """The body's instances, or the first invalid fields and how many there are.

    FastAPI's validation of a body parameter, and so its error messages.
    """
    try:
        validated = request_type.model_validate(body, from_attributes=True)
    except ValidationError as error:
        return None, _located(error, "body"), error.error_count()
    return validated.instances, [], 0  # type: ignore[attr-defined]


def _validate_query(query_string: bytes) -> tuple[PinQuery, list[dict[str, Any]]]:
    if not query_string:
        return PinQuery(), []
    # Starlette's parsing: latin-1, blank values kept, the last of a repeated name wins.
    values = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    try:
        pin = PinQuery.model_validate({k: values[k] for k in ("version", "alias") if k in values})
    except ValidationError as error:  # two fields: never more errors than a 422 lists
        return PinQuery(), _located(error, "query")
    return pin, []


def _located(error: ValidationError, where: str) -> list[dict[str, Any]]:
    """The first errors a 422 lists, located in the request as FastAPI locates them."""
    return [
        {"type": e["type"], "loc": (where, *e["loc"]), "msg": e["msg"]}
        for e in itertools.islice(error.errors(include_url=False), MAX_LISTED_ERRORS)
    ]


def _bearer(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """The bearer token of an `Authorization` header, read as FastAPI's `HTTPBearer` does."""
    value = next((v.decode("latin-1") for k, v in headers if k == b"authorization"), None)
    scheme, credentials = get_authorization_scheme_param(value)
    if not (value and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return credentials
