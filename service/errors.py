"""One table from domain errors to HTTP statuses, registered in a loop.

Bodies are `{"detail": ..., "code": ...}` (an unknown item's 404 adds `suggestions`); they
never carry a path, a traceback or a secret. Anything unexpected becomes a generic 500 and
is logged with its traceback.
"""

import logging
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


def error_body(detail: str | list[dict[str, Any]], code: str) -> dict[str, Any]:
    return {"detail": detail, "code": code}


def install_error_handlers(app: FastAPI) -> None:
    for exception_type, (status, code) in ERROR_STATUS.items():
        app.add_exception_handler(exception_type, _domain_handler(status, code))
    app.add_exception_handler(PredictionError, _prediction_error)
    app.add_exception_handler(UnknownItemError, _unknown_item)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def _domain_handler(status: int, code: str) -> Any:
    async def handler(_request: Request, error: Exception) -> JSONResponse:
        return JSONResponse(error_body(str(error), code), status_code=status)

    return handler


async def _prediction_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PredictionError)
    issue = {
        "loc": ["body", "instances", error.field],
        "msg": error.message,
        "type": "prediction_error",
    }
    return JSONResponse(error_body([issue], "invalid_input"), status_code=422)


async def _unknown_item(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnknownItemError)
    # Not found, like an unknown model; the suggestions are items the model does know.
    body = error_body(error.message, f"unknown_{error.field}")
    return JSONResponse({**body, "suggestions": error.suggestions}, status_code=404)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # The offending input is not echoed back: it may be large, or private.
    issues = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in error.errors()
    ]
    return JSONResponse(error_body(issues, "invalid_input"), status_code=422)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = HTTP_CODES.get(error.status_code, "error")
    headers = error.headers
    if error.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return JSONResponse(
        error_body(str(error.detail), code), status_code=error.status_code, headers=headers
    )


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
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal error; see the server log", "internal"), status_code=500
    )
