"""create_app: assembly only. Long-lived objects are built in `lifespan` from settings."""

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Sequence

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from starlette.concurrency import run_in_threadpool

from model_registry import ModelRegistry
from service.errors import install_error_handlers
from service.logging import configure_logging
from service.metrics import ServiceMetrics
from service.middleware import RequestMiddleware
from service.multi_model import HostError, ModelHost
from service.practica_app import PracticaApp
from service.predict_fast_path import PredictFastPath
from service.process import models_loaded, prepare_serving_process
from service.routes import health, models, ui
from service.routes.classify import build_classify_router
from service.routes.docs import install_docs
from service.routes.multi_model import build_multi_model_router
from service.routes.oip import build_oip_router
from service.routes.predict import build_predict_router
from service.routes.recommend import build_recommend_router
from service.runtime import Inference, LoadedModels
from service.security import API_TOKEN_RESPONSES, ApiToken
from service.settings import ServiceSettings, get_settings
from training import CATALOG, AnySpec, BatchPolicy, LoadContext

logger = logging.getLogger(__name__)

DESCRIPTION = """
Every model of the practitioner's ML roadmap, trained on real data, versioned in a
registry and served behind typed endpoints. Each predict route below has its model's
own request and response schema; `?version=N` or `?alias=NAME` pins a version.
"""

# FastAPI's OpenTelemetry asks the global providers on every request whether anything is
# on, about a tenth of a fast prediction's cost; Practica exports Prometheus metrics
# instead. A process that opts in to OpenTelemetry (FASTAPI_OTEL_AUTO_CONFIGURE=true)
# keeps FastAPI's defaults.
TELEMETRY: TelemetryConfig | None = (
    None
    if os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true"
    else {"tracing": False, "metrics": False, "logs": False}
)


def create_app(
    settings: ServiceSettings | None = None,
    catalog: Sequence[AnySpec] = CATALOG,
    registry: ModelRegistry | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(json_lines=settings.log_json, level=settings.log_level)
    metrics = ServiceMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = registry is None
        app.state.registry = registry or await run_in_threadpool(
            ModelRegistry.from_settings, settings
        )
        app.state.models = LoadedModels(
            app.state.registry,
            catalog,
            default_alias=settings.default_alias,
            pinned_cache_size=settings.pinned_cache_size,
            context=LoadContext(threads=settings.inference_threads),
            on_swap=lambda name, version: metrics.serving_version.labels(name).set(version),
            after_swaps=models_loaded,
        )
        app.state.inference = Inference(
            app.state.models,
            metrics,
            policies={
                name: BatchPolicy(override.max_items, override.max_wait_ms)
                for name, override in settings.batch_policies.items()
            },
            batching=settings.batching,
            timeout_s=settings.inference_timeout_s,
        )
        await run_in_threadpool(app.state.models.refresh)
        poller = asyncio.create_task(_poll_aliases(app.state.models, settings.alias_poll_s))
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await app.state.inference.close()
            metrics.flush()  # the last second's observations, into the workers' files too
            if owned:
                app.state.registry.close()

    app = PracticaApp(
        outermost=(RequestMiddleware, PredictFastPath),
        title="Practica",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # install_docs serves /docs and /redoc with local assets
        redoc_url=None,
        telemetry=TELEMETRY,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.catalog = {spec.name: spec for spec in catalog}
    install_error_handlers(app)
    install_docs(app)
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(ui.router)  # the dashboard; pages stay out of the OpenAPI document
    # The inference routes ask for a token only on a server that has one; the OpenAPI
    # document then declares it, and only then.
    guarded = settings.api_token is not None
    for router in (build_predict_router(catalog), build_classify_router(catalog),
                   build_recommend_router(catalog), build_oip_router(catalog)):  # fmt: skip
        app.include_router(
            router,
            dependencies=[ApiToken] if guarded else None,
            responses=API_TOKEN_RESPONSES if guarded else None,
        )
    # Predict requests skip FastAPI's routing and dependency solving (see the module).
    app.add_middleware(PredictFastPath, catalog=catalog)
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
        access_log=settings.access_log,
    )
    return app


def create_server_app() -> FastAPI:
    """The app of a serving process (`practica serve`, each uvicorn worker)."""
    settings = get_settings()
    prepare_serving_process(settings.inference_threads)
    return create_app(settings)


async def _poll_aliases(models: LoadedModels, interval_s: float) -> None:
    """Pick up alias moves made elsewhere (CLI, another replica) without a restart."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await run_in_threadpool(models.refresh)
        except Exception:
            logger.exception("alias poll failed; serving the versions already loaded")


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_multi_model_app(
    settings: ServiceSettings, host: ModelHost, metrics: ServiceMetrics
) -> FastAPI:
    """The app of a SageMaker multi-model endpoint (`practica container serve` with
    SAGEMAKER_MULTI_MODEL=true): SageMaker's model API over `host`, health and metrics."""
    app = PracticaApp(
        outermost=(RequestMiddleware,),
        title="Practica multi-model endpoint",
        version="0.1.0",
        description="SageMaker loads, invokes and unloads Practica bundles by name.",
        generate_unique_id_function=_operation_id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.host = host
    install_error_handlers(app)

    async def host_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HostError)
        return error.response()

    app.add_exception_handler(HostError, host_error)
    install_docs(app)
    app.add_api_route("/healthz", health.healthz, methods=["GET"], tags=["health"])
    app.add_api_route("/metrics", health.metrics, methods=["GET"], tags=["health"],
                      response_class=Response)  # fmt: skip
    app.include_router(build_multi_model_router())
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics)
    return app
