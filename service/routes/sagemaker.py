"""SageMaker's container contract: `GET /ping` and `POST /invocations`.

A thin adapter over the one inference path, like every route: `/invocations` chooses the
model, turns the body into instances validated by that model's own input schema
(`sagemaker_io` says which bodies and answers), calls `Inference.infer`, and writes the
answer in the media type `Accept` asks for.

The model is the one the `X-Amzn-SageMaker-Target-Model` header names, else
`PRACTICA_DEFAULT_MODEL`, else the only one served. Neither route asks for
`PRACTICA_API_TOKEN`: SageMaker authenticates callers itself and forwards only the headers
of its own API, so a bearer token could never arrive. `X-Amzn-SageMaker-Custom-Attributes`
is accepted and ignored.
"""

import functools
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from model_registry.names import check_model_name
from service.deps import InferenceDep, LoadedModelsDep, SettingsDep
from service.errors import error_body
from service.logging import model_var
from service.routes.sagemaker_io import (
    CSV,
    INFERENCE_ERRORS,
    JSON,
    ModelInput,
    RefusedError,
    answer,
    answer_type,
    read_instances,
    request_body_docs,
)
from service.runtime import off_loop_when
from service.schemas import ErrorResponse, error_responses
from training import AnySpec, ModelSpec

TARGET_MODEL_HEADER = "X-Amzn-SageMaker-Target-Model"


# ----------------------------------------------------------------- the routes

ERROR_RESPONSES = (
    error_responses(
        (400, "several models are served and none was chosen"),
        (404, "the chosen model is not served here"),
    )
    | INFERENCE_ERRORS
)


def build_sagemaker_router(catalog: Sequence[AnySpec]) -> APIRouter:
    """`GET /ping` and `POST /invocations` for the servable models of `catalog`."""
    models = {spec.name: ModelInput.of(spec) for spec in catalog if isinstance(spec, ModelSpec)}
    router = APIRouter(tags=["sagemaker"])

    @router.get(
        "/ping",
        summary="SageMaker health check",
        responses={200: {"description": "every model is loaded (empty body)"},
                   503: {"model": ErrorResponse, "description": "models still loading"}},
    )  # fmt: skip
    async def ping(loaded: LoadedModelsDep) -> Response:
        """200 with an empty body once every model is loaded; a dictionary read, so fast."""
        serving = loaded.serving_versions()
        waiting = [name for name in loaded.specs if name not in serving]
        if loaded.is_ready and not waiting:
            return Response(status_code=200)
        detail = f"not ready: loading {', '.join(waiting)}" if waiting else "not ready: loading"
        return JSONResponse(error_body(detail, "loading"), status_code=503)

    @router.post(
        "/invocations",
        summary="SageMaker inference",
        responses={200: {"description": "the predict route's JSON, or CSV rows",
                         "content": {JSON: {}, CSV: {"schema": {"type": "string"}}}},
                   **ERROR_RESPONSES},
        openapi_extra={"requestBody": request_body_docs(models)},
    )  # fmt: skip
    async def invocations(
        request: Request,
        inference: InferenceDep,
        settings: SettingsDep,
        target_model: Annotated[
            str | None,
            Header(
                alias=TARGET_MODEL_HEADER,
                description="the model to run; default: PRACTICA_DEFAULT_MODEL, else the "
                "only one served",
            ),
        ] = None,
    ) -> Response:
        """Run the chosen model on a JSON, CSV or image body; answer in JSON or CSV (Accept)."""
        try:
            model = _chosen_model(models, target_model, settings.default_model)
            model_var.set(model.name)
            wanted = answer_type(request.headers.get("accept"))
            instances = await read_instances(request, model)
        except RefusedError as refusal:
            return refusal.response()
        result = await inference.infer(model.name, instances)
        write = functools.partial(answer, wanted, model.spec, result)
        return await off_loop_when(result.is_large, write)

    return router


def _chosen_model(
    models: dict[str, ModelInput], header: str | None, default: str | None
) -> ModelInput:
    """The header's model, else PRACTICA_DEFAULT_MODEL, else the only one served."""
    name = check_model_name(header.strip()) if header else default
    if name is None:
        if len(models) == 1:
            return next(iter(models.values()))
        raise RefusedError(
            400,
            "model_not_chosen",
            f"this endpoint serves {len(models)} models ({', '.join(models)}): name one in "
            f"the {TARGET_MODEL_HEADER} header, or set PRACTICA_DEFAULT_MODEL",
        )
    if name not in models:
        raise RefusedError(
            404,
            "model_not_found",
            f"model {name!r} is not served here; this endpoint serves {', '.join(models)}",
        )
    return models[name]
