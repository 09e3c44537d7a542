"""Typed Python clients for the Practica HTTP API. They speak HTTP only."""

from clients._async import AsyncPracticaClient
from clients._requests import Image, Instance
from clients._retry import RetryPolicy
from clients._sync import PracticaClient
from clients.errors import (
    ApiError,
    BadRequestError,
    ConnectionFailedError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PracticaError,
    RequestTimedOutError,
    ServerError,
    UnauthorizedError,
    UnavailableError,
    UnsupportedMediaTypeError,
)
from clients.payloads import (
    AliasMoved,
    Health,
    ModelDetail,
    ModelReport,
    ModelSummary,
    PlotLink,
    Prediction,
    Readiness,
    Recommendations,
    RecommendedMovie,
    TypedPrediction,
    VersionDetail,
)

__all__ = [
    "AliasMoved",
    "ApiError",
    "AsyncPracticaClient",
    "BadRequestError",
    "ConnectionFailedError",
    "ForbiddenError",
    "Health",
    "Image",
    "Instance",
    "InvalidInputError",
    "ModelDetail",
    "ModelReport",
    "ModelSummary",
    "NotFoundError",
    "PayloadTooLargeError",
    "PlotLink",
    "PracticaClient",
    "PracticaError",
    "Prediction",
    "Readiness",
    "Recommendations",
    "RecommendedMovie",
    "RequestTimedOutError",
    "RetryPolicy",
    "ServerError",
    "TypedPrediction",
    "UnauthorizedError",
    "UnavailableError",
    "UnsupportedMediaTypeError",
    "VersionDetail",
]
