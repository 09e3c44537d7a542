"""SageMaker's multi-model container API: models loaded, listed, invoked and unloaded by name.

    POST   /models                      {"model_name", "url"}: 200; 409 if loaded; 507 if
                                        the memory budget has no room for it
    GET    /models?next_page_token=     {"models": [{"modelName", "modelUrl"}, ...],
                                        "nextPageToken"} (the token only if more follow)
    GET    /models/{model_name}         {"modelName", "modelUrl"}; 404 if not loaded
    DELETE /models/{model_name}         200; 404 if not loaded
    POST   /models/{model_name}/invoke  the body and answer of /invocations, for that model
    GET    /ping                        200: the container takes loads

A thin adapter, like every route: invoke reads the body with `sagemaker_io` and calls the
hosted model's `Inference.infer`. SageMaker names models with opaque keys of its own; the
`X-Amzn-SageMaker-Target-Model` header it adds (the caller's TargetModel) is only logged.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from service.logging import model_var
from service.multi_model import HostedModel, ModelHost
from service.routes.sagemaker_io import (
    CSV,
    INFERENCE_ERRORS,
    JSON,
    RefusedError,
    answer,
    answer_type,
    read_instances,
    request_body_docs,
)
from service.schemas import error_responses


async def _host(request: Request) -> ModelHost:
    host: ModelHost = request.app.state.host
    return host


HostDep = Annotated[ModelHost, Depends(_host)]


class LoadModel(BaseModel):
    """SageMaker's load request: its key for the model, and where it unpacked the tarball."""

    model_config = ConfigDict(extra="ignore")

    model_name: str = Field(min_length=1, max_length=256, examples=["a1b2c3"])
    url: str = Field(min_length=1, max_length=4096, examples=["/opt/ml/models/a1b2c3/model"])


class HostedModelInfo(BaseModel):
    """A loaded model, in the field names SageMaker reads, and what it serves."""

    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True
    )

    model_name: str = Field(description="SageMaker's key for it")
    model_url: str = Field(description="the folder it was loaded from")
    model: str = Field(description="the catalog model the bundle holds")
    version: int = Field(description="the version of it that serves")
    memory_bytes: int = Field(description="what it is charged against the memory budget")

    @classmethod
    def of(cls, hosted: HostedModel) -> "HostedModelInfo":
        return cls(
            model_name=hosted.name,
            model_url=hosted.url,
            model=hosted.model.name,
            version=hosted.version,
            memory_bytes=hosted.charge_bytes,
        )


class HostedModels(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True
    )

    models: list[HostedModelInfo]
    next_page_token: str | None = Field(
        None, description="pass it as next_page_token for the next page; absent on the last"
    )


NOT_LOADED = error_responses((404, "no model of that name is loaded"))


def build_multi_model_router() -> APIRouter:
    router = APIRouter(tags=["sagemaker multi-model"])

    @router.get("/ping", summary="SageMaker health check", response_class=Response)
    async def ping() -> Response:
        """200 with an empty body: the container is up and takes loads."""
        return Response(status_code=200)

    @router.post(
        "/models",
        summary="Load a model",
        responses=error_responses(
            (400, "url is not a bundle folder under the models folder, or reaches it "
                  "through a link"),
            (409, "a model of that name is already loaded"),
            (422, "the bundle is refused (unsafe, corrupt, unknown model) or cannot load"),
            (507, "the memory budget has no room for it: unload a model first"),
        ),
    )  # fmt: skip
    async def load_model(body: LoadModel, host: HostDep) -> HostedModelInfo:
        """Load the bundle SageMaker unpacked at `url`, to be invoked as `model_name`."""
        return HostedModelInfo.of(await host.load(body.model_name, body.url))

    @router.get(
        "/models",
        summary="List loaded models",
        response_model_exclude_none=True,
        responses=error_responses((400, "next_page_token is not one this server gave")),
    )
    async def list_models(
        host: HostDep,
        next_page_token: Annotated[str | None, Query(max_length=1024)] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="models per page")] = 100,
    ) -> HostedModels:
        """The loaded models by name, a page at a time."""
        shown, token = host.page(limit, next_page_token)
        return HostedModels(models=[HostedModelInfo.of(h) for h in shown], next_page_token=token)

    @router.get("/models/{model_name}", summary="Describe a loaded model", responses=NOT_LOADED)
    async def get_model(model_name: str, host: HostDep) -> HostedModelInfo:
        return HostedModelInfo.of(host.get(model_name))

    @router.delete(
        "/models/{model_name}",
        summary="Unload a model",
        responses={200: {"description": "unloaded; its memory is released"}, **NOT_LOADED},
    )
    async def unload_model(model_name: str, host: HostDep) -> dict[str, Any]:
        """Unload the model: requests already running finish, later ones get a 404."""
        await host.unload(model_name)
        return {"status": "unloaded", "modelName": model_name}

    @router.post(
        "/models/{model_name}/invoke",
        summary="Invoke a loaded model",
        responses={200: {"description": "the predict route's JSON, or CSV rows",
                         "content": {JSON: {}, CSV: {"schema": {"type": "string"}}}},
                   **NOT_LOADED, **INFERENCE_ERRORS},
        openapi_extra={"requestBody": request_body_docs({})},
    )  # fmt: skip
    async def invoke(model_name: str, request: Request, host: HostDep) -> Response:
        """Run the model on a JSON, CSV or image body; answer in JSON or CSV (Accept)."""
        hosted = host.get(model_name)
        model_var.set(hosted.model.name)
        try:
            wanted = answer_type(request.headers.get("accept"))
            instances = await read_instances(request, hosted.model)
        except RefusedError as refusal:
            return refusal.response()
        result = await hosted.inference.infer(hosted.model.name, instances)
        return answer(wanted, hosted.model.spec, result)

    return router
