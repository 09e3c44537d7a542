"""One typed predict route per servable catalog model, built when the app is created.

No `from __future__ import annotations` here: the body type is a variable of the
factory, and postponed annotations would turn it into a query parameter.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, create_model

from service.deps import InferenceDep
from service.logging import model_var
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


def build_predict_router(catalog: Sequence[AnySpec]) -> APIRouter:
    router = APIRouter(prefix="/v1/models", tags=["predict"])
    for spec in catalog:
        if isinstance(spec, ModelSpec):
            add_model_route(
                router, f"/{spec.name}/predict", _make_endpoint(spec), spec, verb="predict",
                summary=f"Predict with {spec.name} (module {spec.module})",
                description=spec.title,
            )  # fmt: skip
    return router


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
    request_type = _request_model(spec)
    response_type = response_model(spec)
    example = {"instances": [spec.example_input.model_dump(mode="json")]}
    name = spec.name

    async def predict(
        body: Annotated[request_type, _body_example(example)],  # type: ignore[valid-type]
        inference: InferenceDep,
        version: Annotated[
            int | None, Query(ge=1, le=MAX_REQUESTED_VERSION, description="pin a version")
        ] = None,
        alias: Annotated[
            str | None,
            Query(
                pattern=r"^[a-z][a-z0-9_-]{0,62}$",
                description="pin an alias (a ?version= given too wins)",
            ),
        ] = None,
    ) -> Response:
        model_var.set(name)
        instances = cast(PredictRequest[Any], body).instances
        result = await inference.infer(name, instances, version=version, alias=alias)
        response: BaseModel = response_type(
            model=name, version=result.version, predictions=result.outputs
        )
        # Serialised here, once: returning the model would make FastAPI validate it again.
        return Response(response.model_dump_json(), media_type="application/json")

    return predict


def _body_example(example: dict[str, Any]) -> Any:
    from fastapi import Body

    return Body(openapi_examples={"example": {"summary": "a valid request", "value": example}})


def _request_model(spec: AnyModelSpec) -> Any:
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


def response_model(spec: AnyModelSpec) -> Any:
    generic: Any = PredictResponse
    return generic[spec.output_schema]
