"""Annotated dependencies: the long-lived objects `lifespan` puts on `app.state`."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from model_registry import ModelRegistry
from service.metrics import ServiceMetrics
from service.runtime import Inference, LoadedModels
from service.settings import ServiceSettings
from training import AnySpec


def _from_state(attribute: str) -> Callable[[Request], Awaitable[Any]]:
    # async: FastAPI runs a plain `def` dependency in the thread pool, a hop per request
    # for a dictionary read.
    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, attribute)

    dependency.__name__ = f"get_{attribute}"
    return dependency


SettingsDep = Annotated[ServiceSettings, Depends(_from_state("settings"))]
RegistryDep = Annotated[ModelRegistry, Depends(_from_state("registry"))]
LoadedModelsDep = Annotated[LoadedModels, Depends(_from_state("models"))]
MetricsDep = Annotated[ServiceMetrics, Depends(_from_state("metrics"))]
CatalogDep = Annotated[dict[str, AnySpec], Depends(_from_state("catalog"))]
InferenceDep = Annotated[Inference, Depends(_from_state("inference"))]
