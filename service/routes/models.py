"""Model metadata, training reports and alias moves (the generic `{name}` routes)."""

import re
from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from model_registry import ModelNotFoundError, ModelRegistry, ModelVersion, RegisteredModel
from model_registry.flavors import load_json
from model_registry.names import MODEL_NAME
from service.deps import CatalogDep, LoadedModelsDep, RegistryDep
from service.runtime import ModelUnavailableError
from service.schemas import (
    JSON_BODY_ERRORS,
    MAX_REQUESTED_VERSION,
    AliasResponse,
    AliasUpdate,
    ModelDetail,
    ModelList,
    ModelReport,
    ModelSummary,
    PlotLink,
    VersionDetail,
    error_responses,
)
from service.security import AdminOnly
from training import AnySpec, Floor, ModelSpec
from training.runner import REPORT_PREFIX

router = APIRouter(prefix="/v1/models", tags=["models"])

ModelName = Annotated[str, Path(pattern=MODEL_NAME.pattern, description="the model's slug")]
AliasName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
PlotName = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,64}$")]
VersionQuery = Annotated[
    int | None, Query(ge=1, le=MAX_REQUESTED_VERSION, description="a version number")
]
AliasQuery = Annotated[
    str | None,
    Query(pattern=r"^[a-z][a-z0-9_-]{0,62}$", description="an alias (a ?version= wins)"),
]
UNAVAILABLE = (503, "the registry's database, or a stored file, cannot be read now")
LIST_ERRORS = error_responses(UNAVAILABLE)
READ_ERRORS = error_responses(
    (404, "unknown model, version, alias or plot"),
    (422, "an invalid name, version or alias: `detail` says which"),
    UNAVAILABLE,
)
ALIAS_ERRORS = error_responses(
    *JSON_BODY_ERRORS,
    (401, "no admin token sent"),
    (403, "a wrong admin token, or admin routes disabled (no PRACTICA_ADMIN_TOKEN is set)"),
    (404, "unknown model or version"),
    (422, "an invalid alias name or version: `detail` says which"),
    (503, "the version cannot be loaded (the alias was moved back), or the registry is down"),
)
_PLOT_FILE = re.compile(rf"^{REPORT_PREFIX}([a-z0-9_]+)\.png$")


@router.get("", responses=LIST_ERRORS)
def list_models(catalog: CatalogDep, registry: RegistryDep, models: LoadedModelsDep) -> ModelList:
    """Every catalog model with its versions, aliases and serving version."""
    registered = {m.name: m for m in registry.list_models()}
    serving = models.serving_versions()
    return ModelList(
        models=[_summary(spec, registered.get(spec.name), serving) for spec in catalog.values()]
    )


@router.get("/{name}", responses=READ_ERRORS)
def get_model(
    name: ModelName, catalog: CatalogDep, registry: RegistryDep, models: LoadedModelsDep
) -> ModelDetail:
    """One model: every version with its metrics, signature and lineage."""
    spec = _spec(catalog, name)
    registered = _registered(registry, name)
    versions = registry.list_versions(name) if registered is not None else []
    return ModelDetail(
        **_summary(spec, registered, models.serving_versions()).model_dump(),
        floors=_floors(spec.floors_for(spec.stages("full")[-1])),
        version_details=[
            VersionDetail(
                version=v.version,
                created_at=v.created_at,
                flavor=v.flavor,
                aliases=list(v.aliases),
                metrics=v.metrics,
                params=v.params,
                floors=_floors(spec.version_floors(v.params)),
                signature=v.signature,
                lineage=v.lineage,
            )
            for v in versions
        ],
    )


@router.get("/{name}/report", responses=READ_ERRORS)
def get_report(
    name: ModelName,
    catalog: CatalogDep,
    registry: RegistryDep,
    models: LoadedModelsDep,
    version: VersionQuery = None,
    alias: AliasQuery = None,
) -> ModelReport:
    """A version's training report: held-out metrics, tables, findings and plot links."""
    record = _resolve(catalog, registry, name, version, alias, models.default_alias)
    report = load_json(registry.read_file(record, f"{REPORT_PREFIX}report.json"))
    plots = sorted(m.group(1) for f in record.files if (m := _PLOT_FILE.fullmatch(f)))
    return ModelReport(
        model=name,
        version=record.version,
        metrics=record.metrics,
        tables=report["tables"],
        notes=report["notes"],
        plots=[
            PlotLink(name=p, url=f"/v1/models/{name}/report/plots/{p}?version={record.version}")
            for p in plots
        ],
    )


@router.get(
    "/{name}/report/plots/{plot}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **READ_ERRORS},
)
def get_plot(
    name: ModelName,
    plot: PlotName,
    catalog: CatalogDep,
    registry: RegistryDep,
    models: LoadedModelsDep,
    version: VersionQuery = None,
    alias: AliasQuery = None,
) -> Response:
    """One report plot as PNG (immutable per version, so cacheable)."""
    record = _resolve(catalog, registry, name, version, alias, models.default_alias)
    file_name = f"{REPORT_PREFIX}{plot}.png"
    if file_name not in record.files:
        raise HTTPException(404, f"{name} v{record.version} has no plot {plot!r}")
    png = registry.read_file(record, file_name)
    cache = "public, max-age=31536000, immutable" if version is not None else "no-cache"
    return Response(png, media_type="image/png", headers={"Cache-Control": cache})


@router.put(
    "/{name}/aliases/{alias}",
    dependencies=[AdminOnly],
    responses=ALIAS_ERRORS,
)
async def set_alias(
    name: ModelName,
    alias: AliasName,
    update: AliasUpdate,
    catalog: CatalogDep,
    registry: RegistryDep,
    models: LoadedModelsDep,
) -> AliasResponse:
    """Admin: point an alias at a version; this server swaps now, replicas on their next poll.

    When the alias is the one this server serves and the version cannot be loaded, the
    alias is moved back and the answer is a 503 saying why: a 200 means it serves.
    """
    _spec(catalog, name)
    before = (await run_in_threadpool(registry.get_model, name)).aliases.get(alias)
    await run_in_threadpool(registry.set_alias, name, alias, update.version)
    await run_in_threadpool(models.refresh)
    serving = models.serving_versions().get(name)
    # Report-only analyses (no predict route) are never loaded: their alias only says
    # which version's report `/report` shows.
    is_served = name in models.specs
    if is_served and alias == models.default_alias and serving != update.version:
        reason = models.failures.get(name, "it could not be loaded")
        await run_in_threadpool(_restore_alias, registry, name, alias, before)
        await run_in_threadpool(models.refresh)
        raise ModelUnavailableError(
            name, f"{reason}; {alias!r} is left at {f'v{before}' if before else 'no version'}"
        )
    return AliasResponse(model=name, alias=alias, version=update.version)


def _restore_alias(registry: ModelRegistry, name: str, alias: str, version: int | None) -> None:
    if version is None:
        registry.delete_alias(name, alias)
    else:
        registry.set_alias(name, alias, version)


def _spec(catalog: dict[str, AnySpec], name: str) -> AnySpec:
    if name not in catalog:
        raise ModelNotFoundError(name)
    return catalog[name]


def _registered(registry: ModelRegistry, name: str) -> RegisteredModel | None:
    try:
        return registry.get_model(name)
    except ModelNotFoundError:
        return None


def _resolve(
    catalog: dict[str, AnySpec],
    registry: ModelRegistry,
    name: str,
    version: int | None,
    alias: str | None,
    default_alias: str,
) -> ModelVersion:
    """The version a request means; without a pin, the one this server serves by default
    (PRACTICA_DEFAULT_ALIAS), as predict does."""
    _spec(catalog, name)
    return registry.resolve(name, version=version, alias=alias, default_alias=default_alias)


def _summary(
    spec: AnySpec, registered: RegisteredModel | None, serving: dict[str, int]
) -> ModelSummary:
    return ModelSummary(
        name=spec.name,
        module=spec.module,
        title=spec.title,
        kind=spec.kind,
        servable=isinstance(spec, ModelSpec),
        versions=list(registered.versions) if registered else [],
        aliases=registered.aliases if registered else {},
        serving_version=serving.get(spec.name),
    )


def _floors(floors: Iterable[Floor]) -> dict[str, str]:
    return {floor.metric: _floor_text(floor.minimum, floor.maximum) for floor in floors}


def _floor_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"between {minimum:g} and {maximum:g}"
    return f">= {minimum:g}" if minimum is not None else f"<= {maximum:g}"
