"""Annotated dependencies: the long-lived objects `lifespan` puts on `app.state`."""

from typing import Annotated

from fastapi import Depends, Request

from model_registry import ModelRegistry
from service.metrics import ServiceMetrics
from service.runtime import LoadedModels
from service.settings import ServiceSettings
from training import AnySpec


def _settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


def _registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry = request.app.state.registry
    return registry


def _models(request: Request) -> LoadedModels:
    models: LoadedModels = request.app.state.models
    return models


def _metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


def _catalog(request: Request) -> dict[str, AnySpec]:
    catalog: dict[str, AnySpec] = request.app.state.catalog
    return catalog


SettingsDep = Annotated[ServiceSettings, Depends(_settings)]
RegistryDep = Annotated[ModelRegistry, Depends(_registry)]
LoadedModelsDep = Annotated[LoadedModels, Depends(_models)]
MetricsDep = Annotated[ServiceMetrics, Depends(_metrics)]
CatalogDep = Annotated[dict[str, AnySpec], Depends(_catalog)]
