"""The API's response bodies as the client sees them (mirrors /openapi.json, no server import)."""

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

OutT = TypeVar("OutT", bound=BaseModel)


class ModelSummary(BaseModel):
    name: str
    module: int
    title: str
    kind: str
    servable: bool
    versions: list[int]
    aliases: dict[str, int]
    serving_version: int | None


class VersionDetail(BaseModel):
    version: int
    created_at: datetime
    flavor: str
    aliases: list[str]
    metrics: dict[str, float]
    params: dict[str, Any]
    signature: dict[str, Any]
    lineage: dict[str, Any]


class ModelDetail(ModelSummary):
    floors: dict[str, str]
    version_details: list[VersionDetail]


class Prediction(BaseModel):
    """A predict or classify answer, each prediction as the JSON object the server sent."""

    model: str
    version: int
    predictions: list[dict[str, Any]]


class TypedPrediction(BaseModel, Generic[OutT]):
    """The same answer with each prediction validated into the caller's own pydantic class."""

    model: str
    version: int
    predictions: list[OutT]


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


class AliasMoved(BaseModel):
    model: str
    alias: str
    version: int


class RecommendedMovie(BaseModel):
    title: str
    score: float


class Recommendations(BaseModel):
    model: str
    version: int
    matched_title: str
    recommendations: list[RecommendedMovie]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    serving: dict[str, int]
    unavailable: dict[str, str]
