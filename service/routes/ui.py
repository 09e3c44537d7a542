"""`/ui`: the dashboard, server-rendered pages over the same data as the JSON API.

The catalog, a page per model (versions, aliases, lineage, metrics against their floors,
the report's plots) and a try-it form per servable model. Every page reads and works with
JavaScript off: the form posts to `/ui/models/{name}/try`, which answers through the one
inference path (`Inference.infer`) and renders the typed answer; `ui.js` only submits it
in place and previews a chosen image. Moving an alias needs the admin token, sent in the
form or as `Authorization: Bearer`, and is refused on a server that has none.

None of these routes is part of the API: the OpenAPI document leaves them out.
"""

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from model_registry import ModelRegistry, ModelVersion, RegistryError, VersionNotFoundError
from model_registry.registry import serving_version
from service.deps import CatalogDep, InferenceDep, LoadedModelsDep, RegistryDep, SettingsDep
from service.errors import ERROR_STATUS
from service.logging import model_var
from service.routes import models as model_routes
from service.routes.predict import response_model
from service.runtime import LoadedModels
from service.schemas import MAX_REQUESTED_VERSION, AliasUpdate, ModelReport, VersionDetail
from service.settings import ServiceSettings
from service.ui.forms import (
    UPLOAD_FIELD,
    FormError,
    example_values,
    form_fields,
    is_upload,
    read_instance,
)
from service.ui.pages import asset, error_page, render
from training import AnyModelSpec, AnySpec, Floor, ModelSpec, PredictionError, Schema
from training.data.images import MAX_IMAGE_BYTES, ImageError, check_image
from training.models.movie_recommender import MovieRecommender
from training.schemas import ImageInput
from training.spec import UnknownItemError

router = APIRouter(prefix="/ui", include_in_schema=False)
# The try-it form's own inputs. A model's fields never start with "_" (pydantic keeps
# such names private), so these cannot collide with one.
VERSION_FIELD = "_version"
TOKEN_FIELD = "_api_token"


@dataclass(frozen=True)
class MetricRow:
    """A metric of a version, beside its floor when it has one."""

    name: str
    value: float | None
    floor: Floor | None

    @property
    def is_met(self) -> bool | None:
        if self.floor is None or self.value is None:
            return None
        return self.floor.holds({self.name: self.value})


@dataclass(frozen=True)
class CatalogRow:
    spec: AnySpec
    is_servable: bool
    versions: tuple[int, ...]
    aliases: dict[str, int]
    serving_version: int | None
    shown_version: int | None
    """The version the row describes: the default alias's, else the newest."""
    profile: str | None
    """The training profile of that version: floors apply to `full` only."""
    headline: MetricRow | None


# ----------------------------------------------------------------- reading pages


@router.get("")
def catalog_page(
    request: Request, catalog: CatalogDep, registry: RegistryDep, models: LoadedModelsDep
) -> Response:
    """Every catalog model: module, name, serving version and headline metric vs its floor."""
    try:
        registered = {m.name: m for m in registry.list_models()}
        serving = models.serving_versions()
        rows = []
        for spec in catalog.values():
            model = registered.get(spec.name)
            shown = serving_version(model, models.default_alias) if model else None
            record = registry.get_version(spec.name, shown) if shown else None
            rows.append(
                CatalogRow(
                    spec=spec,
                    is_servable=isinstance(spec, ModelSpec),
                    versions=model.versions if model else (),
                    aliases=model.aliases if model else {},
                    serving_version=serving.get(spec.name),
                    shown_version=shown,
                    profile=record.lineage.profile if record else None,
                    headline=_headline(spec, record),
                )
            )
    except Exception as error:
        return _known_error_page(request, error)
    return render(request, "catalog.html", rows=rows, default_alias=models.default_alias)


@router.get("/models/{name}")
def model_page(
    name: str,
    request: Request,
    catalog: CatalogDep,
    registry: RegistryDep,
    models: LoadedModelsDep,
    settings: SettingsDep,
    version: str | None = None,
) -> Response:
    """One model: versions, aliases, the chosen version's metrics, lineage and report."""
    if name not in catalog:
        return _unknown_model(request, name, catalog)
    pinned = _version_number(version)
    if pinned is None and version is not None:
        return error_page(request, 422, "version must be a whole number from 1")
    try:
        context = _model_context(catalog[name], catalog, registry, models, settings, pinned)
    except Exception as error:
        return _known_error_page(request, error)
    return render(request, "model.html", **context)


@router.get("/static/{file_name}")
def static_file(file_name: str, request: Request) -> Response:
    """The dashboard's stylesheet and script (served from memory, by a fixed list of names)."""
    return asset(file_name) or error_page(request, 404, "no such file")


def _model_context(
    spec: AnySpec,
    catalog: dict[str, AnySpec],
    registry: ModelRegistry,
    models: LoadedModels,
    settings: ServiceSettings,
    pinned: int | None,
) -> dict[str, Any]:
    detail = model_routes.get_model(
        name=spec.name, catalog=catalog, registry=registry, models=models
    )
    shown = pinned or detail.aliases.get(models.default_alias) or max(detail.versions, default=0)
    selected = next((v for v in detail.version_details if v.version == shown), None)
    if pinned is not None and selected is None:
        raise VersionNotFoundError(spec.name, pinned)
    report, report_problem = _report(spec, catalog, registry, models, selected)
    context: dict[str, Any] = {
        "spec": spec,
        "detail": detail,
        "selected": selected,
        "metric_rows": _metric_rows(spec, selected),
        "report": report,
        "report_problem": report_problem,
        "default_alias": models.default_alias,
        "is_admin_enabled": settings.admin_token is not None,
        "notice": None,
        "try_it": None,
    }
    if isinstance(spec, ModelSpec) and detail.versions:
        context["try_it"] = _try_context(
            spec, models, settings, values=example_values(spec), pinned=pinned
        )
    return context


def _report(
    spec: AnySpec,
    catalog: dict[str, AnySpec],
    registry: ModelRegistry,
    models: LoadedModels,
    selected: VersionDetail | None,
) -> tuple[ModelReport | None, str | None]:
    if selected is None:
        return None, None
    try:
        report = model_routes.get_report(
            name=spec.name, catalog=catalog, registry=registry, models=models,
            version=selected.version, alias=None,
        )  # fmt: skip
    except RegistryError as error:  # the page still shows the version without its report
        return None, f"the report of v{selected.version} cannot be read: {error}"
    return report, None


def _headline(spec: AnySpec, record: ModelVersion | None) -> MetricRow | None:
    """The version's first floor with its value: the one number a catalog row shows."""
    floors = spec.version_floors(record.params) if record else spec.floors
    if not floors:
        return None
    floor = floors[0]
    return MetricRow(floor.metric, record.metrics.get(floor.metric) if record else None, floor)


def _metric_rows(spec: AnySpec, selected: VersionDetail | None) -> list[MetricRow]:
    if selected is None:
        return []
    floors = {floor.metric: floor for floor in spec.version_floors(selected.params)}
    with_floors = [MetricRow(m, selected.metrics.get(m), f) for m, f in floors.items()]
    others = [MetricRow(m, value, None) for m, value in selected.metrics.items() if m not in floors]
    return with_floors + others


# ----------------------------------------------------------------- try it


@router.post("/models/{name}/try")
async def try_model(
    name: str,
    request: Request,
    catalog: CatalogDep,
    inference: InferenceDep,
    settings: SettingsDep,
) -> Response:
    """Run the form's instance through the model and render its typed answer."""
    spec = catalog.get(name)
    if spec is None:
        return _unknown_model(request, name, catalog)
    if not isinstance(spec, ModelSpec):
        return error_page(request, 404, f"{name} is a report-only analysis: read its report")
    model_var.set(name)
    async with request.form(max_files=1, max_fields=100) as form:
        values = {key: value for key, value in form.items() if isinstance(value, str)}
        pinned = _version_number(values.get(VERSION_FIELD) or None)

        def page(status: int, **outcome: Any) -> Response:
            context = _try_context(spec, inference.models, settings, values=values, pinned=pinned)
            return render(request, "try.html", status=status, try_it={**context, **outcome})

        refusal = _token_refusal(settings.api_token, values.get(TOKEN_FIELD), request, "API")
        if refusal is not None:
            return page(refusal[0], failure=refusal[1])
        if pinned is None and values.get(VERSION_FIELD):
            return page(422, problems={VERSION_FIELD: "choose a version from the list"})
        try:
            instance = await _instance(spec, form, values)
            result = await inference.infer(name, [instance], version=pinned)
        except FormError as error:
            return page(422, problems=error.problems)
        except ImageError as error:
            status = 415 if error.kind == "unsupported_media" else 422
            return page(status, problems={UPLOAD_FIELD: error.message})
        except UnknownItemError as error:
            return page(404, problems={error.field: error.message}, suggestions=error.suggestions)
        except PredictionError as error:
            return page(422, problems={error.field: error.message})
        except Exception as error:
            known = _status_of(error)
            if known is None:
                raise
            return page(known, failure=str(error))
    [prediction] = result.outputs
    answer = response_model(spec)(model=name, version=result.version, predictions=[prediction])
    return page(
        200,
        answer=prediction.model_dump(mode="json"),
        answer_version=result.version,
        answer_json=answer.model_dump_json(indent=2),
    )


async def _instance(spec: AnyModelSpec, form: FormData, values: Mapping[str, str]) -> Schema:
    if not is_upload(spec):
        return read_instance(spec, form_fields(spec), values)
    upload = form.get(UPLOAD_FIELD)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise FormError({UPLOAD_FIELD: "choose an image file (JPEG, PNG, WebP or GIF)"})
    data = await upload.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise FormError({UPLOAD_FIELD: f"the image is over {MAX_IMAGE_BYTES:,} bytes"})
    check_image(data)  # format, header and pixel limits, before the model decodes it
    input_type: type[ImageInput] = spec.input_schema
    return input_type.from_upload(data)


def _try_context(
    spec: AnyModelSpec,
    models: LoadedModels,
    settings: ServiceSettings,
    *,
    values: Mapping[str, str],
    pinned: int | None,
) -> dict[str, Any]:
    """What the try-it form shows: its inputs, their values and the versions to pin."""
    registered = models.snapshot().get(spec.name)
    return {
        "spec": spec,
        "fields": form_fields(spec),
        "values": values,
        "is_upload": is_upload(spec),
        "upload_field": UPLOAD_FIELD,
        "version_field": VERSION_FIELD,
        "token_field": TOKEN_FIELD,
        "api_route": _api_route(spec),
        "versions": registered.versions if registered else (),
        "pinned": pinned,
        "default_alias": models.default_alias,
        "needs_api_token": settings.api_token is not None,
        "problems": {},
        "suggestions": [],
        "failure": None,
        "answer": None,
    }


def _api_route(spec: AnyModelSpec) -> str:
    """The JSON route that answers what the form answers, for the page to point at."""
    if is_upload(spec):
        return f"POST /classify/{spec.name}"
    if isinstance(spec, MovieRecommender):
        return "POST /recommend"
    return f"POST /v1/models/{spec.name}/predict"


# ----------------------------------------------------------------- admin


@router.post("/models/{name}/aliases")
async def move_alias(
    name: str,
    request: Request,
    catalog: CatalogDep,
    registry: RegistryDep,
    models: LoadedModelsDep,
    settings: SettingsDep,
) -> Response:
    """Admin: point an alias at a version, as `PUT /v1/models/{name}/aliases/{alias}` does."""
    if name not in catalog:
        return _unknown_model(request, name, catalog)
    async with request.form(max_files=0, max_fields=10) as form:
        values = {key: value for key, value in form.items() if isinstance(value, str)}
    if settings.admin_token is None:
        return error_page(
            request,
            403,
            "admin actions are disabled on this server: set PRACTICA_ADMIN_TOKEN to enable them",
        )
    refusal = _token_refusal(settings.admin_token, values.get("admin_token"), request, "admin")
    if refusal is not None:
        return error_page(request, *refusal)
    alias = values.get("alias", "").strip()
    version = _version_number(values.get("version"))
    if version is None:
        return error_page(request, 422, "version must be a whole number from 1")
    update = AliasUpdate(version=version)
    try:
        await model_routes.set_alias(
            name=name, alias=alias, update=update, catalog=catalog, registry=registry, models=models
        )
        context = await run_in_threadpool(
            _model_context, catalog[name], catalog, registry, models, settings, None
        )
    except Exception as error:
        return _known_error_page(request, error)
    context["notice"] = f"{alias} now points at version {update.version}"
    return render(request, "model.html", **context)


@router.get("/{path:path}")
def unknown_page(request: Request) -> Response:
    """Any other address under /ui: a page saying so (registered last, so it never shadows)."""
    return error_page(request, 404, "no such page: the models are listed at /ui")


# ----------------------------------------------------------------- shared


def _token_refusal(
    expected: SecretStr | None, supplied: str | None, request: Request, what: str
) -> tuple[int, str] | None:
    """Why a request without the right token is refused (401 or 403), or None.

    No token configured means nothing to check: callers that must deny by default
    (admin) refuse before asking.
    """
    if expected is None:
        return None
    header = request.headers.get("authorization", "")
    token = supplied or (header[7:] if header[:7].lower() == "bearer " else "")
    if not token:
        return 401, f"missing {what} token: enter it in the form (or send Authorization: Bearer)"
    if not secrets.compare_digest(token.encode(), expected.get_secret_value().encode()):
        return 403, f"invalid {what} token"
    return None


def _version_number(text: str | None) -> int | None:
    """A version number from a query or form (None if it is not one)."""
    if text is None or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 1 <= number <= MAX_REQUESTED_VERSION else None


def _status_of(error: Exception) -> int | None:
    """The HTTP status the API answers for a domain error (None: not one it knows)."""
    for kind in type(error).__mro__:
        if kind in ERROR_STATUS:
            return ERROR_STATUS[kind][0]
    return None


def _known_error_page(request: Request, error: Exception) -> Response:
    status = _status_of(error)
    if status is None:
        raise error  # the app's handler logs it and answers a generic 500
    return error_page(request, status, str(error))


def _unknown_model(request: Request, name: str, catalog: dict[str, AnySpec]) -> Response:
    known = ", ".join(catalog)
    return error_page(request, 404, f"no model named {name!r}; the catalog has {known}")
