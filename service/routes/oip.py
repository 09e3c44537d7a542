"""The Open Inference Protocol (KServe V2, Triton's HTTP API) under `/v2`.

A thin adapter over the one inference path, like every route: `infer` turns the request's
tensors into instances of the model's own input schema (`oip_tensors` says how), calls
`Inference.infer`, and writes the predictions back as tensors (`oip_wire`: JSON, and the
binary tensor extension tritonclient uses). Every error is `{"error": "..."}`: 400 for
tensors that do not fit the model, 404 for an unknown model or version, 503 when the model
cannot serve. Versions are the registry's numbers; a route without one serves the
default alias, like the REST routes.
"""

import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from model_registry import (
    AliasNotFoundError,
    ArtifactIntegrityError,
    ArtifactMissingError,
    InvalidNameError,
    ModelNotFoundError,
    ModelRegistry,
    RegistryError,
    RegistryUnavailableError,
    VersionNotFoundError,
)
from service.deps import InferenceDep, LoadedModelsDep, RegistryDep
from service.logging import model_var
from service.routes import health
from service.routes.oip_tensors import (
    IMAGE_TENSOR,
    ModelTensors,
    TensorError,
    UnsupportedSchemaError,
)
from service.routes.oip_wire import (
    BINARY,
    HEADER_LENGTH,
    JSON,
    InferCall,
    InferRequest,
    InferResponse,
    ModelMetadata,
    ModelReady,
    OipError,
    ServerLive,
    ServerMetadata,
    ServerReady,
    TensorMetadata,
    error_response,
    infer_response,
    read_request,
)
from service.runtime import (
    LARGE_BODY_BYTES,
    Inference,
    InferenceTimeoutError,
    LoadedModels,
    ModelUnavailableError,
    NoServingVersionError,
    WorkBudgetError,
    off_loop_when,
)
from service.schemas import (
    BODY_TOO_LARGE,
    MAX_REQUESTED_VERSION,
    ErrorResponse,
    error_responses,
)
from training import AnySpec, ModelSpec, PredictionError
from training.data.images import ImageError

logger = logging.getLogger(__name__)

EXTENSIONS = ["binary_tensor_data"]
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (TensorError, 400),
    (PredictionError, 400),
    (ImageError, 400),
    (WorkBudgetError, 400),
    (InvalidNameError, 404),
    (ModelNotFoundError, 404),
    (VersionNotFoundError, 404),
    (AliasNotFoundError, 404),
    (NoServingVersionError, 404),
    (ModelUnavailableError, 503),
    (RegistryUnavailableError, 503),
    (ArtifactIntegrityError, 503),
    (ArtifactMissingError, 503),
    (InferenceTimeoutError, 504),
)
"""Domain errors answered in the protocol's shape; anything else is the app's generic 500."""


class RefusedError(Exception):
    """A refusal this module words itself."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class OipRoute(APIRoute):
    """Answers the protocol's errors as `{"error": "..."}`, whatever raised them."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # Parameters FastAPI itself cannot read reach the app's handlers, whose 422 is the
        # app's error body: say so, instead of FastAPI's default schema.
        responses = kwargs.pop("responses", None) or {}
        unreadable = {"model": ErrorResponse, "description": "parameters that cannot be read"}
        kwargs["responses"] = {422: unreadable, **responses}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except RefusedError as failure:
                return error_response(failure.status, failure.message)
            except Exception as error:
                status = next((code for kind, code in _STATUS if isinstance(error, kind)), None)
                if status is None:
                    raise  # the app's handlers answer it (401/403, or a logged 500)
                return error_response(status, _message(error))

        return handler


def _message(error: Exception) -> str:
    if isinstance(error, PredictionError):
        # Its field is the input's field; the tensor has its name, but for an image's.
        field = IMAGE_TENSOR if error.field == "image_base64" else error.field
        return f"input {field!r}: {error.message}"
    if isinstance(error, ImageError):
        return f"input {IMAGE_TENSOR!r}: {error}"
    return str(error)


def _number(name: str, version: str) -> int:
    # isdecimal and ASCII: isdigit alone takes "¹", which int() refuses.
    if version.isascii() and version.isdecimal() and 1 <= int(version) <= MAX_REQUESTED_VERSION:
        return int(version)
    raise RefusedError(404, f"{name} has no version {version[:40]!r}: versions are numbers 1, 2, …")


def _errors(*statuses: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": OipError, "description": why} for status, why in statuses}


NOT_FOUND = (404, "unknown model, or a version it does not have")
UNAVAILABLE = (503, "not ready: still loading, or the version cannot be loaded")
METADATA_ERRORS = _errors(NOT_FOUND, (503, "the registry cannot be reached"))
READY_ERRORS = _errors(NOT_FOUND, UNAVAILABLE)
INFER_ERRORS = _errors(
    (
        400,
        "tensors that do not fit the model (names, datatypes, shapes, values), or more "
        "work than one request may ask",
    ),
    NOT_FOUND,
    (415, "a compressed body (Content-Encoding)"),
    UNAVAILABLE,
    (504, "the model did not answer within PRACTICA_INFERENCE_TIMEOUT_S"),
) | error_responses(BODY_TOO_LARGE)  # refused before any route, in the app's shape
Name = Annotated[str, Path(description="the model, as in /v1/models", examples=["iris-pca"])]
Version = Annotated[str, Path(description="a registered version number", examples=["1"])]


def build_oip_router(catalog: Sequence[AnySpec]) -> APIRouter:
    """The protocol's routes, for the servable models of `catalog` that tensors can carry."""
    models: dict[str, ModelTensors] = {}
    for spec in catalog:
        if isinstance(spec, ModelSpec):
            try:
                models[spec.name] = ModelTensors.of(spec)
            except UnsupportedSchemaError as error:
                logger.warning("%s is not served on /v2: %s", spec.name, error)
    router = APIRouter(prefix="/v2", tags=["oip"], route_class=OipRoute)

    def model_of(name: str) -> ModelTensors:
        model = models.get(name)
        if model is None:
            raise RefusedError(
                404, f"no model {name[:100]!r} on /v2; GET /v1/models lists the models"
            )
        return model

    # ------------------------------------------------------------- server

    @router.get("/health/live", summary="Server liveness")
    async def server_live() -> ServerLive:
        return ServerLive(live=True)

    @router.get("/health/ready", summary="Server readiness", responses=_errors(UNAVAILABLE))
    async def server_ready(loaded: LoadedModelsDep) -> ServerReady:
        """Ready when `/readyz` is: the registry has been read, and it answers."""
        verdict = await health.readyz(loaded)
        if verdict.status_code != 200:
            raise RefusedError(503, "not ready: GET /readyz says why")
        return ServerReady(ready=True)

    @router.get("", summary="Server metadata")
    async def server_metadata(request: Request) -> ServerMetadata:
        return ServerMetadata(name="practica", version=request.app.version, extensions=EXTENSIONS)

    # ------------------------------------------------------------- models

    async def metadata(
        name: str, version: str | None, loaded: LoadedModels, registry: ModelRegistry
    ) -> ModelMetadata:
        model = model_of(name)
        known = loaded.snapshot().get(name)
        versions = [str(number) for number in known.versions] if known else []
        if version is not None and version not in versions:
            # The snapshot is as old as the last alias poll: ask the registry itself.
            await run_in_threadpool(registry.get_version, name, _number(name, version))
            versions.append(version)
        return ModelMetadata(
            name=name,
            versions=versions,
            platform=f"practica_{model.spec.flavor}",
            inputs=[TensorMetadata(**spec.metadata()) for spec in model.inputs],
            outputs=[TensorMetadata(**spec.metadata()) for spec in model.outputs],
        )

    @router.get("/models/{name}", summary="Model metadata", responses=METADATA_ERRORS)
    async def model_metadata(
        name: Name, loaded: LoadedModelsDep, registry: RegistryDep
    ) -> ModelMetadata:
        """The model's versions and tensors: names, datatypes, shapes (-1: any length)."""
        return await metadata(name, None, loaded, registry)

    @router.get(
        "/models/{name}/versions/{version}",
        summary="Model version metadata",
        responses=METADATA_ERRORS,
    )
    async def model_version_metadata(
        name: Name, version: Version, loaded: LoadedModelsDep, registry: RegistryDep
    ) -> ModelMetadata:
        return await metadata(name, version, loaded, registry)

    async def ready(name: str, version: str | None, loaded: LoadedModels) -> ModelReady:
        model_of(name)
        number = None if version is None else _number(name, version)
        try:
            predictor = loaded.lookup(name, number)
        except NoServingVersionError as error:
            raise RefusedError(503, f"not ready: {error}") from None
        if predictor is None:  # a pinned version: ready once loaded, so load it now
            try:
                await run_in_threadpool(loaded.load_pinned, name, number)
            except (ModelNotFoundError, VersionNotFoundError):
                raise  # not found: a 404
            except RegistryError as error:  # its messages name no path
                raise RefusedError(
                    503, f"not ready: version {number} cannot be loaded: {error}"
                ) from None
            except Exception as error:
                logger.exception("could not load %s v%s", name, number)
                raise RefusedError(
                    503, f"not ready: version {number} cannot be loaded "
                    f"({type(error).__name__}; the server log has the details)",
                ) from None  # fmt: skip
        return ModelReady(name=name, ready=True)

    @router.get("/models/{name}/ready", summary="Model readiness", responses=READY_ERRORS)
    async def model_ready(name: Name, loaded: LoadedModelsDep) -> ModelReady:
        """Ready when its serving version is loaded."""
        return await ready(name, None, loaded)

    @router.get(
        "/models/{name}/versions/{version}/ready",
        summary="Model version readiness",
        responses=READY_ERRORS,
    )
    async def model_version_ready(
        name: Name, version: Version, loaded: LoadedModelsDep
    ) -> ModelReady:
        """Ready when the version is loaded; asking loads it, as an inference would."""
        return await ready(name, version, loaded)

    # ------------------------------------------------------------- inference

    async def infer(
        name: str, version: str | None, request: Request, inference: Inference
    ) -> Response:
        model = model_of(name)
        model_var.set(name)
        number = None if version is None else _number(name, version)
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise RefusedError(415, f"Content-Encoding {encoding[:40]!r}: send the body as is")
        body, header_length = await request.body(), request.headers.get(HEADER_LENGTH)

        def read() -> tuple[InferCall, list[Any]]:
            call = read_request(body, header_length)
            return call, model.instances(call.inputs)

        call, instances = await off_loop_when(len(body) > LARGE_BODY_BYTES, read)
        result = await inference.infer(name, instances, version=number)

        def write() -> Response:
            columns = model.output_columns(result.outputs, call.output_names)
            return infer_response(name, result.version, call, columns)

        return await off_loop_when(result.is_large, write)

    infer_docs: dict[str, Any] = {
        "response_class": Response,
        "responses": {200: _infer_answer_docs(), **INFER_ERRORS},
        "openapi_extra": {"requestBody": _infer_body_docs(models)},
    }

    @router.post("/models/{name}/infer", summary="Inference on tensors", **infer_docs)
    async def model_infer(name: Name, request: Request, inference: InferenceDep) -> Response:
        """Tensors in, tensors out; see docs/api.md for each model's tensors."""
        return await infer(name, None, request, inference)

    @router.post(
        "/models/{name}/versions/{version}/infer",
        summary="Inference on tensors with a pinned version",
        **infer_docs,
    )
    async def model_version_infer(
        name: Name, version: Version, request: Request, inference: InferenceDep
    ) -> Response:
        return await infer(name, version, request, inference)

    return router


def _infer_body_docs(models: dict[str, ModelTensors]) -> dict[str, Any]:
    json_body: dict[str, Any] = {"schema": _inlined_schema(InferRequest)}
    if models:
        json_body["example"] = next(iter(models.values())).example_request()
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {"required": True, "content": {JSON: json_body, BINARY: binary}}


def _infer_answer_docs() -> dict[str, Any]:
    return {
        "description": f"the outputs as JSON; as {BINARY} (the JSON, then the data of the "
        f"outputs asked for in binary) when any is, with the {HEADER_LENGTH} header",
        "content": {
            JSON: {"schema": _inlined_schema(InferResponse)},
            BINARY: {"schema": {"type": "string", "format": "binary"}},
        },
    }


def _inlined_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with its `$defs` written in place.

    These bodies are read by hand (the binary extension), so FastAPI does not list them in
    the document's components, and a `#/$defs/...` reference would point at nothing.
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolved(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolved(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolved(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolved(item) for item in node]
        return node

    inlined: dict[str, Any] = resolved(schema)
    return inlined
