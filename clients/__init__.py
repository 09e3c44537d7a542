"""Typed Python clients for the Practica HTTP API. They speak HTTP only."""

from clients._client import AsyncPracticaClient, PracticaClient
from clients.errors import (
    ApiError,
    ConnectionFailedError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PracticaError,
    ServerError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
)
from clients.payloads import (
    AliasMoved,
    ModelDetail,
    ModelReport,
    ModelSummary,
    Prediction,
    Readiness,
)

__all__ = [
    "AliasMoved",
    "ApiError",
    "AsyncPracticaClient",
    "ConnectionFailedError",
    "ForbiddenError",
    "InvalidInputError",
    "ModelDetail",
    "ModelReport",
    "ModelSummary",
    "NotFoundError",
    "PayloadTooLargeError",
    "PracticaClient",
    "PracticaError",
    "Prediction",
    "Readiness",
    "ServerError",
    "UnauthorizedError",
    "UnsupportedMediaTypeError",
]
