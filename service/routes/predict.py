"""One typed predict route per servable catalog model, built when the app is created.

No `from __future__ import annotations` here: the body type is a variable of the
factory, and postponed annotations would turn it into a query parameter.
"""

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, NoReturn, cast

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, create_model

from model_registry import ModelNotFoundError
from service.deps import InferenceDep
from service.logging import model_var
from service.runtime import Inference, off_loop_when
from service.schemas import (
    JSON_BODY_ERRORS,
    MAX_INSTANCES,
    MAX_REQUESTED_VERSION,
    PredictRequest,
    PredictResponse,
    error_responses,
)
from training import AnyModelSpec, AnySpec, ModelSpec

INFERENCE_ERRORS = (
    (503, "the model's version cannot be loaded (`/readyz` says why), or the registry is down"),
    (504, "the model did not answer within PRACTICA_INFERENCE_TIMEOUT_S"),
)
"""What any route that runs a model may answer once its input is valid."""
ERROR_RESPONSES = error_responses(
    *JSON_BODY_ERRORS,
    (404, "unknown model, version or alias"),
    (
        422,
        "invalid instances (`detail` names each field and the reason), or more work than "
        "the model's budget (`work_budget_exceeded`)",
    ),
    *INFERENCE_ERRORS,
)


ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
VERSION_DESCRIPTION = "pin a version"
ALIAS_DESCRIPTION = "pin an alias (a ?version= given too wins)"


class PinQuery(BaseModel):
    """`?version=` and `?alias=`: the version a request pins, if any. The route declares
    the same constraints as query parameters; the fast path validates with this model."""

    version: int | None = Field(None, ge=1, le=MAX_REQUESTED_VERSION)
    alias: str | None = Field(None, pattern=ALIAS_PATTERN)


def build_predict_router(catalog: Sequence[AnySpec]) -> APIRouter:
    router = APIRouter(tags=["predict"])
    for spec in catalog:
        if isinstance(spec, ModelSpec):
            add_model_route(
                router, predict_path(spec), _make_endpoint(spec), spec, verb="predict",
                summary=f"Predict with {spec.name} (module {spec.module})",
                description=spec.title,
            )  # fmt: skip
    # Any other name gets the documented 404 and its code, not the router's bare one.
    router.add_api_route(
        "/v1/models/{name}/predict",
        _unknown_model,
        methods=["POST"],
        response_model=None,
        include_in_schema=False,
    )
    return router


async def _unknown_model(name: str) -> NoReturn:
    raise ModelNotFoundError(name)


def predict_path(spec: AnyModelSpec) -> str:
    return f"/v1/models/{spec.name}/predict"


def add_model_route(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Awaitable[Any]],
    spec: AnyModelSpec,
    *,
    verb: str,
    summary: str,
    description: str,
    errors: dict[int | str, dict[str, Any]] = ERROR_RESPONSES,
) -> None:
    """A POST route answering the model's typed response, with the documented errors."""
    router.add_api_route(
        path, endpoint, methods=["POST"], response_model=response_model(spec),
        name=f"{verb}_{spec.name.replace('-', '_')}", summary=summary, description=description,
        responses=errors,
    )  # fmt: skip


def _make_endpoint(spec: AnyModelSpec) -> Callable[..., Awaitable[Any]]:
    request_type = request_model(spec)
    example = {"instances": [spec.example_input.model_dump(mode="json")]}

    async def predict(
        body: Annotated[request_type, _body_example(example)],  # type: ignore[valid-type]
        inference: InferenceDep,
        version: Annotated[
            int | None,
            Query(ge=1, le=MAX_REQUESTED_VERSION, description=VERSION_DESCRIPTION),
        ] = None,
        alias: Annotated[
            str | None,
            Query(pattern=ALIAS_PATTERN, description=ALIAS_DESCRIPTION),
        ] = None,
    ) -> Response:
        instances = cast(PredictRequest[Any], body).instances
        answer = await predict_answer(
            inference, spec, instances, PinQuery.model_construct(version=version, alias=alias)
        )
        return Response(answer, media_type="application/json")

    return predict


async def predict_answer(
    inference: Inference, spec: AnyModelSpec, instances: Sequence[Any], pin: PinQuery
) -> bytes:
    """The JSON answer of a predict route for validated instances: this route's and the
    fast path's (`service.predict_fast_path`), which skips FastAPI on the way here."""
    model_var.set(spec.name)
    result = await inference.infer(spec.name, instances, version=pin.version, alias=pin.alias)
    response: BaseModel = response_model(spec)(
        model=spec.name, version=result.version, predictions=result.outputs
    )
    # Serialised here, once: returning the model would make FastAPI validate it again.
    return (await off_loop_when(result.is_large, response.model_dump_json)).encode()


def _body_example(example: dict[str, Any]) -> Any:
    from fastapi import Body

    return Body(openapi_examples={"example": {"summary": "a valid request", "value": example}})


@functools.cache
def request_model(spec: AnyModelSpec) -> Any:
    """`PredictRequest[<the spec's input>]`, capped lower when the spec asks for it."""
    generic: Any = PredictRequest  # parametrised at run time: mypy sees Any, FastAPI the model
    request_type = generic[spec.input_schema]
    if spec.max_batch_size >= MAX_INSTANCES:
        return request_type
    # A model with heavy outputs (long trajectories) caps its batches lower.
    return create_model(
        f"{request_type.__name__}Capped",
        __base__=request_type,
        instances=(
            list[spec.input_schema],  # type: ignore[name-defined]
            Field(
                min_length=1,
                max_length=spec.max_batch_size,
                description=f"1 to {spec.max_batch_size} instances",
            ),
        ),
    )


@functools.cache
def response_model(spec: AnyModelSpec) -> Any:
    generic: Any = PredictResponse
    return generic[spec.output_schema]
