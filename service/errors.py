"""One table from domain errors to HTTP statuses, registered in a loop.

Bodies are `{"detail": ..., "code": ...}` (an unknown item's 404 adds `suggestions`); they
never carry a path, a traceback or a secret. Anything unexpected becomes a generic 500 and
is logged with its traceback.
"""

import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from model_registry import (
    AliasNotFoundError,
    ArtifactIntegrityError,
    ArtifactMissingError,
    InvalidNameError,
    ModelNotFoundError,
    RegistryUnavailableError,
    VersionNotFoundError,
)
from service.runtime import (
    InferenceTimeoutError,
    ModelUnavailableError,
    NoServingVersionError,
    WorkBudgetError,
)
from service.schemas import MAX_LISTED_ERRORS
from training import PredictionError
from training.data.images import InvalidImageError, UnsupportedImageError
from training.spec import UnknownItemError

logger = logging.getLogger(__name__)

ERROR_STATUS: dict[type[Exception], tuple[int, str]] = {
    ModelNotFoundError: (404, "model_not_found"),
    VersionNotFoundError: (404, "version_not_found"),
    AliasNotFoundError: (404, "alias_not_found"),
    NoServingVersionError: (404, "no_serving_version"),
    ModelUnavailableError: (503, "model_unavailable"),
    InferenceTimeoutError: (504, "inference_timeout"),
    WorkBudgetError: (422, "work_budget_exceeded"),
    RegistryUnavailableError: (503, "registry_unavailable"),
    InvalidNameError: (422, "invalid_name"),
    ArtifactIntegrityError: (503, "artifact_integrity"),
    ArtifactMissingError: (503, "artifact_missing"),
    UnsupportedImageError: (415, "unsupported_image"),
    InvalidImageError: (422, "invalid_image"),
}
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    503: "unavailable",
}


class ListedValidationError(RequestValidationError):
    """Invalid input of which `errors()` lists the first few of `count` invalid fields."""

    def __init__(self, errors: Sequence[Any], count: int) -> None:
        super().__init__(errors)
        self.count = count


def error_body(detail: str | list[dict[str, Any]], code: str) -> dict[str, Any]:
    return {"detail": detail, "code": code}


def install_error_handlers(app: FastAPI) -> None:
    for exception_type in _RENDERERS:
        app.add_exception_handler(exception_type, _handle)
    app.add_exception_handler(Exception, _unexpected_error)


def error_response(error: Exception) -> JSONResponse | None:
    """The JSON error a known exception is answered with; None for an unexpected one.

    The exception handlers answer with it, and so does the predict fast path, which runs
    outside FastAPI's exception middleware: both render an error the same way.
    """
    for cls in type(error).__mro__:  # the nearest renderer, as Starlette finds a handler
        render = _RENDERERS.get(cls)
        if render is not None:
            return render(error)
    return None


async def _handle(request: Request, error: Exception) -> JSONResponse:
    response = error_response(error)
    assert response is not None  # registered only for the types that render
    if response.status_code == 405:
        response.headers["Allow"] = allowed_methods(request)
    return response


def _domain_error(status: int, code: str) -> Callable[[Exception], JSONResponse]:
    def render(error: Exception) -> JSONResponse:
        return JSONResponse(error_body(str(error), code), status_code=status)

    return render


def _prediction_error(error: Exception) -> JSONResponse:
    assert isinstance(error, PredictionError)
    issue = {
        "loc": ["body", "instances", error.field],
        "msg": error.message,
        "type": "prediction_error",
    }
    return JSONResponse(error_body([issue], "invalid_input"), status_code=422)


def _unknown_item(error: Exception) -> JSONResponse:
    assert isinstance(error, UnknownItemError)
    # Not found, like an unknown model; the suggestions are items the model does know.
    body = error_body(error.message, f"unknown_{error.field}")
    return JSONResponse({**body, "suggestions": error.suggestions}, status_code=404)


def _validation_error(error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = error.errors()
    # The offending input is not echoed back: it may be large, or private.
    issues = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in itertools.islice(errors, MAX_LISTED_ERRORS)
    ]
    body = error_body(issues, "invalid_input")
    count = error.count if isinstance(error, ListedValidationError) else len(errors)
    if count > MAX_LISTED_ERRORS:
        body["error_count"] = count
    return JSONResponse(body, status_code=422)


def _http_error(error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = HTTP_CODES.get(error.status_code, "error")
    return JSONResponse(
        error_body(str(error.detail), code), status_code=error.status_code, headers=error.headers
    )


_RENDERERS: dict[type[Exception], Callable[[Exception], JSONResponse]] = {
    **{cls: _domain_error(status, code) for cls, (status, code) in ERROR_STATUS.items()},
    PredictionError: _prediction_error,
    UnknownItemError: _unknown_item,
    RequestValidationError: _validation_error,
    StarletteHTTPException: _http_error,
}


def allowed_methods(request: Request) -> str:
    """The `Allow` header of a 405: every method some route serves the request's path with.

    Starlette names only those of the first route whose path matches, so a path that two
    routes serve (`GET` and `POST /recommend`) would deny a method it allows. Each method
    is asked of the routing itself, included routers and all.
    """
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


async def _unexpected_error(request: Request, _error: Exception) -> JSONResponse:
    return unexpected_error_response(request.method, request.url.path)


def unexpected_error_response(method: str, path: str) -> JSONResponse:
    """The 500 of an error no renderer knows, logged with its traceback (call it from the
    `except` block that caught the error)."""
    logger.exception("unhandled error on %s %s", method, path)
    return JSONResponse(
        error_body("internal error; see the server log", "internal"), status_code=500
    )
