"""`/recommend`: movies like a given one, from the movie recommender (module 21).

A thin adapter over the one inference path, like `/classify`: the JSON body of a POST, or
the query string of a GET (for a browser's address bar), is the model's own input schema
and goes to `Inference.infer` as one instance; the answer lays that instance's prediction
beside the version that served it. An unknown title is a 404 that suggests close titles.
"""

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from service.deps import InferenceDep
from service.logging import model_var
from service.routes.predict import INFERENCE_ERRORS
from service.runtime import Inference
from service.schemas import BODY_TOO_LARGE, UNPARSEABLE_BODY, ErrorResponse, error_responses
from training import AnySpec
from training.models.movie_recommender import (
    MAX_K,
    MovieQuery,
    MovieRecommendations,
    MovieRecommender,
    RecommendedMovie,
)

NAME = MovieRecommender.name
EXAMPLE_QUERY = {"title": "Toy Story (1995)", "k": 3}


class RecommendResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": NAME,
                    "version": 1,
                    "matched_title": "Toy Story (1995)",
                    "recommendations": [
                        {"title": "Toy Story 2 (1999)", "score": 0.4022},
                        {"title": "Aladdin (1992)", "score": 0.349},
                        {"title": "Back to the Future (1985)", "score": 0.3147},
                    ],
                }
            ]
        }
    )

    model: str
    version: int
    matched_title: str = Field(description="the catalogue movie the requested title matched")
    recommendations: list[RecommendedMovie] = Field(description="most similar first")


class UnknownTitleResponse(ErrorResponse):
    suggestions: list[str] = Field(
        default_factory=list, description="the closest titles the model knows, when the title "
        "was not found",
    )  # fmt: skip


GET_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {
        "model": UnknownTitleResponse,
        "description": "no movie matches the title (`code` `unknown_title`, with `suggestions`), "
        "or no version of the model is published",
    },
    422: {"model": ErrorResponse, "description": "invalid `title` or `k`: `detail` says which"},
    **error_responses(*INFERENCE_ERRORS),
}
# Only the POST reads a body. /recommend is not under /v1, whose bodies must be declared
# application/json (no 415): a body of another type is read as JSON, or refused with a 422.
POST_RESPONSES = {**error_responses(UNPARSEABLE_BODY, BODY_TOO_LARGE), **GET_RESPONSES}


def build_recommend_router(catalog: Sequence[AnySpec]) -> APIRouter:
    """`POST` and `GET /recommend`, when the catalog serves the movie recommender."""
    router = APIRouter(prefix="/recommend", tags=["recommend"])
    if not any(isinstance(spec, MovieRecommender) for spec in catalog):
        return router
    description = (
        f"Up to {MAX_K} movies most like the given one, with their similarity. Titles are "
        "matched forgivingly (case, accents, 'The', a missing year, small typos); a title "
        f"several movies share means the most-rated. The same as `POST /v1/models/{NAME}"
        "/predict` with one instance."
    )
    routes = (("POST", _post, POST_RESPONSES), ("GET", _get, GET_RESPONSES))
    for method, endpoint, responses in routes:
        router.add_api_route(
            "", endpoint, methods=[method], response_model=RecommendResponse, responses=responses,
            name=f"recommend_{method.lower()}", summary="Recommend movies like a given one",
            description=description,
        )  # fmt: skip
    return router


async def _post(
    query: Annotated[
        MovieQuery,
        Body(openapi_examples={"example": {"summary": "a title", "value": EXAMPLE_QUERY}}),
    ],
    inference: InferenceDep,
) -> Response:
    return await _recommend(inference, query)


class MovieQueryParameters(MovieQuery):
    """`GET /recommend`'s query: a query string is text, so `k` is read from its digits."""

    model_config = ConfigDict(strict=False)


async def _get(
    query: Annotated[MovieQueryParameters, Query()], inference: InferenceDep
) -> Response:
    return await _recommend(inference, query)


async def _recommend(inference: Inference, query: MovieQuery) -> Response:
    model_var.set(NAME)
    result = await inference.infer(NAME, [query])
    [prediction] = result.outputs
    assert isinstance(prediction, MovieRecommendations)
    response = RecommendResponse(
        model=NAME,
        version=result.version,
        matched_title=prediction.matched_title,
        recommendations=prediction.recommendations,
    )
    # Serialised here, once: returning the model would make FastAPI validate it again.
    return Response(response.model_dump_json(), media_type="application/json")
