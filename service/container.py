"""`practica container serve`: the serving process of the SageMaker-compatible image.

SageMaker runs `docker run IMAGE serve` (the image's entrypoint is `practica container`)
with the unpacked `model.tar.gz` in `/opt/ml/model`. The same command runs outside Docker
with `SAGEMAKER_BASE_DIR` pointing elsewhere. In order:

1. The port is bound at once; until the models are loaded every request, `GET /ping`
   included, is answered 503 (SageMaker waits for a 200), `GET /healthz` 200.
2. The bundle in `$SAGEMAKER_BASE_DIR/model` (an unpacked `practica export`, or the
   `model.tar.gz` itself) is imported by the registry's own bundle code, which refuses
   links, escaping paths and blobs whose sha256 differs, into a fresh registry in a
   temporary folder: SageMaker's model folder is read-only, and a fresh registry never
   mixes two bundles.
3. The app of `practica serve` is built for the bundled models, plus `/ping` and
   `/invocations`, and its models are loaded; `/ping` then answers 200.
4. SIGTERM (SageMaker's stop, SIGKILL 30 s later) closes the listener, lets in-flight
   requests finish, and the command ends with status 0.

A bundle that cannot be served (missing, unsafe, holding models this image does not know,
a model that fails to load) ends the command with status 1 and a message saying why. The
temporary registry is removed in every case.
"""

import asyncio
import contextlib
import functools
import logging
import signal
import socket
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic_settings import BaseSettings
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from model_registry import ModelRegistry, RegistryError, RegistrySettings, import_bundle
from model_registry.bundle import MANIFEST, BundleManifest
from service.errors import error_body
from service.logging import configure_logging
from service.settings import (
    UVICORN_OPTIONS,
    SageMakerEnvironment,
    ServiceSettings,
    SettingsError,
    load_settings,
)

if TYPE_CHECKING:
    from service.runtime import LoadedModels
    from training import AnySpec

logger = logging.getLogger(__name__)
SettingsT = TypeVar("SettingsT", bound=BaseSettings)

TARBALL = "model.tar.gz"
DRAIN_TIMEOUT_S = 25
"""How long in-flight requests may take to finish after SIGTERM: SageMaker kills at 30 s."""


class ContainerError(Exception):
    """The container cannot serve; the message says why and what to do."""


def serve_bundle(
    environment: SageMakerEnvironment, settings: ServiceSettings, *, host: str, port: int
) -> None:
    """Serve the bundle in `environment.model_dir` (or, on a multi-model endpoint, the models
    SageMaker loads) until SIGTERM; ContainerError if it can't."""
    configure_logging(json_lines=settings.log_json, level=settings.log_level)
    model_dir = environment.model_dir
    listener = _listening_socket(host, port)
    with tempfile.TemporaryDirectory(prefix="practica-registry-") as work_dir:
        serve = _multi_model_app if environment.multi_model else _bundle_app
        gate = LoadingGate(functools.partial(serve, environment, Path(work_dir), settings))
        server = uvicorn.Server(
            uvicorn.Config(
                gate,
                host=host,
                port=port,
                timeout_graceful_shutdown=DRAIN_TIMEOUT_S,
                **UVICORN_OPTIONS,
            )
        )

        def stop_server() -> None:
            server.should_exit = True

        gate.on_failure = stop_server
        loading = environment.models_dir if environment.multi_model else model_dir
        logger.info("listening on %s:%s; models in %s", host, port, loading)
        with _stop_signals_end_cleanly():
            server.run(sockets=[listener])
    if isinstance(gate.failure, ContainerError):
        raise gate.failure
    if gate.failure is not None:
        raise ContainerError(
            f"cannot serve the bundle in {model_dir}: unexpected {type(gate.failure).__name__}; "
            "the log above has the details"
        )


def read_environment() -> tuple[SageMakerEnvironment, ServiceSettings]:
    """The SAGEMAKER_* and PRACTICA_* settings; ContainerError naming a bad variable."""
    return _settings(SageMakerEnvironment), _settings(ServiceSettings)


def _settings(settings_type: type[SettingsT]) -> SettingsT:
    try:
        return load_settings(settings_type)
    except SettingsError as error:
        raise ContainerError(str(error)) from None


def _listening_socket(host: str, port: int) -> socket.socket:
    """The bound socket, before anything loads: a busy port is an error of its own."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise ContainerError(
            f"cannot listen on {host}:{port} ({error.strerror}): free the port, or choose "
            "another with SAGEMAKER_BIND_TO_PORT or --port"
        ) from None
    return listener


# ----------------------------------------------------------------- serving while loading


class LoadingGate:
    """The ASGI app uvicorn serves: it answers at once while `load` prepares the real app,
    then hands every request to it.

    uvicorn binds its port only after the app's startup, and loading the catalog and the
    models takes seconds; loading in the background instead lets `/ping` answer 503 (and
    quickly: SageMaker allows it 2 s) until the models are ready.
    """

    def __init__(self, load: Callable[[], AbstractAsyncContextManager[ASGIApp]]) -> None:
        self._load = load
        self._app: ASGIApp | None = None
        self.failure: BaseException | None = None
        self.on_failure: Callable[[], None] = lambda: None
        """Called when loading fails: the server should stop (the failure is kept here)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif self._app is not None:
            await self._app(scope, receive, send)
        elif scope["type"] == "http":
            await self._unready_response(scope["path"])(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        loading: asyncio.Task[None] | None = None
        stop = asyncio.Event()
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                loading = asyncio.create_task(self._serve_loaded(stop))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # A stop during loading waits for it to end: its worker thread cannot be
                # cancelled, and must not outlive the registry it writes to.
                stop.set()
                if loading is not None:
                    await loading
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _serve_loaded(self, stop: asyncio.Event) -> None:
        try:
            async with self._load() as app:
                self._app = app
                logger.info("every model is loaded: /ping answers 200")
                await stop.wait()
        except Exception as error:  # whatever it is, the server stops and says why
            if not isinstance(error, ContainerError):
                logger.exception("the bundle could not be served")
            self.failure = error
            self._app = None
            self.on_failure()

    def _unready_response(self, path: str) -> JSONResponse:
        if path == "/healthz":  # liveness: the process is up, even while it loads
            return JSONResponse({"status": "ok"})
        if self.failure is not None:
            detail = "the models could not be loaded; the server log says why"
            return JSONResponse(error_body(detail, "unavailable"), status_code=503)
        detail = "the models are loading; GET /ping answers 200 once they are ready"
        return JSONResponse(
            error_body(detail, "loading"), status_code=503, headers={"Retry-After": "2"}
        )


# ----------------------------------------------------------------- the bundle's app


@contextlib.asynccontextmanager
async def _bundle_app(
    environment: SageMakerEnvironment, work_dir: Path, settings: ServiceSettings
) -> AsyncIterator[ASGIApp]:
    """The app of the bundle's models, started and loaded; closed (registry too) on exit."""
    model_dir = environment.model_dir
    # Only this registry: a PRACTICA_DATABASE_URL or PRACTICA_ARTIFACT_URI set for
    # `practica serve` must not receive the bundle.
    registry_settings = RegistrySettings(home=work_dir, database_url=None, artifact_uri=None)
    registry = await run_in_threadpool(ModelRegistry.from_settings, registry_settings)
    try:
        app = await run_in_threadpool(_assemble_app, registry, model_dir, settings)
        async with app.router.lifespan_context(app):
            _require_every_model_loaded(app)
            yield app
    finally:
        registry.close()


def _assemble_app(registry: ModelRegistry, model_dir: Path, settings: ServiceSettings) -> FastAPI:
    from service.process import prepare_serving_process

    prepare_serving_process(settings.inference_threads)
    # Imported here, not at the top: the catalog imports every model's libraries (seconds),
    # and the port is bound by then, so /ping answers meanwhile.
    from service.app import create_app
    from service.routes.sagemaker import build_sagemaker_router
    from training import CATALOG

    source = bundle_source(model_dir)
    if source is None:
        raise ContainerError(
            f"no Practica bundle in {model_dir}: expected an unpacked `practica export` bundle "
            f"({MANIFEST} and blobs/) or {TARBALL}; set SAGEMAKER_BASE_DIR if it is elsewhere"
        )
    manifest = imported_bundle(registry, source)
    catalog = bundled_catalog(manifest, CATALOG, settings.default_model)
    app = create_app(settings, catalog=catalog, registry=registry)
    app.include_router(build_sagemaker_router(catalog))
    return app


def bundle_source(folder: Path) -> Path | None:
    """The unpacked bundle SageMaker leaves in a model folder, or the tarball itself; None
    when the folder holds neither."""
    if (folder / MANIFEST).is_file():
        return folder
    if (folder / TARBALL).is_file():
        return folder / TARBALL
    return None


def imported_bundle(registry: ModelRegistry, source: Path) -> BundleManifest:
    try:
        return import_bundle(registry, source)
    except (RegistryError, ValueError, OSError, tarfile.TarError) as error:
        # Unsafe or corrupt: the registry's message names the member or blob at fault.
        raise ContainerError(f"cannot import the bundle in {source}: {error}") from error


def bundled_catalog(
    manifest: BundleManifest, catalog: Sequence["AnySpec"], default_model: str | None
) -> list["AnySpec"]:
    """The catalog entries of the bundle's models, checked against what the image knows."""
    from training import ModelSpec

    bundled = {model.name for model in manifest.models if model.versions}
    unknown = sorted(bundled - {spec.name for spec in catalog})
    if unknown:
        raise ContainerError(
            f"the bundle holds models this image does not know ({', '.join(unknown)}): "
            "build the image from the Practica release that trained them"
        )
    chosen = [spec for spec in catalog if spec.name in bundled]
    servable = [spec.name for spec in chosen if isinstance(spec, ModelSpec)]
    if not servable:
        raise ContainerError(
            "the bundle holds no servable model: export one with "
            f"`practica export NAME --out {TARBALL}`"
        )
    if default_model is not None and default_model not in servable:
        raise ContainerError(
            f"PRACTICA_DEFAULT_MODEL is {default_model!r}, which the bundle does not hold; "
            f"it holds {', '.join(servable)}"
        )
    return chosen


def _require_every_model_loaded(app: FastAPI) -> None:
    """Serving part of a bundle would hide a broken deployment: refuse it instead."""
    failures = model_failures(app.state.models)
    if failures:
        raise ContainerError(f"these models could not be loaded: {failures}")


def model_failures(models: "LoadedModels") -> str:
    """The models that have no version loaded, each with the reason; empty if none."""
    serving = models.serving_versions()
    return "; ".join(
        f"{name} ({models.failures.get(name, 'no version to serve')})"
        for name in models.specs
        if name not in serving
    )


# ----------------------------------------------------------------- multi-model endpoints


@contextlib.asynccontextmanager
async def _multi_model_app(
    environment: SageMakerEnvironment, work_dir: Path, settings: ServiceSettings
) -> AsyncIterator[ASGIApp]:
    """The multi-model app, empty until SageMaker loads models; every one unloaded on exit."""
    app = await run_in_threadpool(_assemble_multi_model_app, environment, work_dir, settings)
    try:
        yield app
    finally:
        await app.state.host.close()


def _assemble_multi_model_app(
    environment: SageMakerEnvironment, work_dir: Path, settings: ServiceSettings
) -> FastAPI:
    from service.process import prepare_serving_process

    prepare_serving_process(settings.inference_threads)
    # The catalog is imported here for the same reason as in `_assemble_app`.
    import training  # noqa: F401
    from service.app import create_multi_model_app
    from service.metrics import ServiceMetrics
    from service.multi_model import ModelHost

    metrics = ServiceMetrics()
    budget = settings.model_memory_mb * 2**20 if settings.model_memory_mb else None
    host = ModelHost(environment.models_dir, work_dir, settings, metrics, budget_bytes=budget)
    logger.info("multi-model endpoint: models load from %s", environment.models_dir)
    return create_multi_model_app(settings, host, metrics)


# ----------------------------------------------------------------- stopping


@contextlib.contextmanager
def _stop_signals_end_cleanly() -> Iterator[None]:
    """SIGTERM and SIGINT end the command with status 0 once uvicorn has drained.

    uvicorn catches them, stops accepting connections, waits for the requests in flight,
    then raises the signal again so that the handler in place before it runs; Python's
    default one would end the process as killed by the signal (status 143). A stop that
    was asked for is not a crash: the handler put in place here only notes it.
    """
    stop_signals = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, _note_stop) for sig in stop_signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _note_stop(signum: int, _frame: FrameType | None) -> None:
    logger.info("stopped by %s; requests in flight were answered", signal.Signals(signum).name)
