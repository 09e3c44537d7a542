"""Liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from service.deps import LoadedModelsDep, MetricsDep
from service.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    """The process is up and answering."""
    return Health(status="ok")


@router.get(
    "/readyz",
    responses={503: {"model": Readiness, "description": "still loading, or the registry's "
                     "database is unreachable (`status` says which)"}},
)  # fmt: skip
async def readyz(models: LoadedModelsDep) -> Response:
    """Ready once the first load from the registry has finished, while its database answers."""
    serving = models.serving_versions()
    unavailable = {
        name: models.failures.get(name, "no registered version")
        for name in models.specs
        if name not in serving
    }
    if not models.is_ready:
        status = "loading"
    elif models.registry_problem is not None:
        status = "registry_unavailable"
    else:
        status = "ready"
    body = Readiness(status=status, serving=serving, unavailable=unavailable)
    return JSONResponse(body.model_dump(), status_code=200 if status == "ready" else 503)


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}}
)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus exposition: requests, latency, errors and serving version per model."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
