"""Request and response bodies of the HTTP API (every one appears in /openapi.json)."""

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from model_registry import Lineage, Signature

MAX_INSTANCES = 1000
MAX_REQUESTED_VERSION = 2**53 - 1
"""The highest version number a request may name (`?version=`, an alias PUT's body).

The registry counts up to 2**63 - 1, but FastAPI writes OpenAPI bounds as floats, and a
float states 2**63 - 1 as 2**63: the documented bound would be one the server refuses.
2**53 - 1 (JavaScript's largest safe integer) is the largest bound a float states exactly.
"""

MAX_LISTED_ERRORS = 100
"""A 422 lists at most this many invalid fields: 1,000 images of 784 wrong pixels would
otherwise answer 784,000 of them (over 100 MB)."""

InT = TypeVar("InT")
OutT = TypeVar("OutT")


class PredictRequest(BaseModel, Generic[InT]):
    model_config = ConfigDict(extra="forbid")

    instances: list[InT] = Field(
        min_length=1, max_length=MAX_INSTANCES, description=f"1 to {MAX_INSTANCES} instances"
    )


class PredictResponse(BaseModel, Generic[OutT]):
    model: str
    version: int
    predictions: list[OutT]


class ModelSummary(BaseModel):
    name: str
    module: int
    title: str
    kind: str
    servable: bool = Field(description="false for report-only analyses")
    versions: list[int]
    aliases: dict[str, int]
    serving_version: int | None = Field(description="what a request without ?version= gets")


class ModelList(BaseModel):
    models: list[ModelSummary]


class VersionDetail(BaseModel):
    version: int
    created_at: datetime
    flavor: str
    aliases: list[str]
    metrics: dict[str, float]
    params: dict[str, Any]
    floors: dict[str, str] = Field(
        description="the quality floors this version is held to on the full profile, by metric"
    )
    signature: Signature
    lineage: Lineage


class ModelDetail(ModelSummary):
    floors: dict[str, str] = Field(
        description="the quality floors a new full-profile version is held to, by metric"
    )
    version_details: list[VersionDetail]


class PlotLink(BaseModel):
    name: str
    url: str


class ModelReport(BaseModel):
    model: str
    version: int
    metrics: dict[str, float]
    tables: dict[str, Any]
    notes: list[str]
    plots: list[PlotLink]


class AliasUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(
        ge=1, le=MAX_REQUESTED_VERSION, description="the version the alias will point at"
    )


class AliasResponse(BaseModel):
    model: str
    alias: str
    version: int


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    serving: dict[str, int]
    unavailable: dict[str, str] = Field(description="servable models not loaded, with the reason")


class ErrorResponse(BaseModel):
    """Every error: a message (or, for 422, the list of invalid fields) and a stable code."""

    detail: str | list[dict[str, Any]]
    code: str
    error_count: int | None = Field(
        None,
        description=f"on a 422 listing only the first {MAX_LISTED_ERRORS} invalid fields: "
        "how many there are",
    )


UNPARSEABLE_BODY = (400, "the body cannot be read as text: JSON must be UTF-8")
BODY_TOO_LARGE = (413, "the body is over PRACTICA_MAX_BODY_BYTES")
NOT_JSON = (415, "the body is not application/json")
JSON_BODY_ERRORS = (UNPARSEABLE_BODY, BODY_TOO_LARGE, NOT_JSON)
"""What a `/v1` route that reads a JSON body may answer before the body is validated."""


def error_responses(*described: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for error statuses, each answered with an `ErrorResponse`."""
    return {status: {"model": ErrorResponse, "description": text} for status, text in described}
