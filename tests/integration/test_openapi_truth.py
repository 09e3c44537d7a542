"""The OpenAPI document tells the truth: each status a route answers is documented with the
error schema, each documented bound is the enforced one, and the answers match.

The document is the full catalog's (building it needs no trained model); the behaviours
run on a small catalog: a fake model, the movie recommender (for `/recommend`) and the
Netflix analysis (a report-only entry).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from model_registry import ModelRegistry, RegistrySettings
from service import ServiceSettings, create_app
from service.schemas import MAX_REQUESTED_VERSION
from tests.fakes import EchoSpec, publish_fake_version
from training import train_and_publish
from training.models.movie_recommender import MovieRecommender
from training.models.netflix_eda import NetflixEda

ADMIN = {"Authorization": "Bearer admin-secret"}
ERROR_SCHEMAS = {"ErrorResponse", "UnknownTitleResponse"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("openapi-home")
    openapi: dict[str, Any] = create_app(ServiceSettings(home=home, log_json=False)).openapi()
    return openapi


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("truth-home")
    registry = ModelRegistry.from_settings(RegistrySettings(home=path))
    try:
        publish_fake_version(registry)
        train_and_publish(NetflixEda(), registry, profile="smoke")
    finally:
        registry.close()
    return path


def _client(home: Path, admin_token: str | None = "admin-secret") -> TestClient:
    settings = ServiceSettings(home=home, log_json=False, admin_token=admin_token)
    return TestClient(create_app(settings, catalog=[EchoSpec(), MovieRecommender(), NetflixEda()]))


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with _client(home) as opened:
        yield opened


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def _schema_name(response: dict[str, Any]) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref: str | None = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def test_every_documented_error_has_the_error_schema(document: dict[str, Any]) -> None:
    """FastAPI's default 422 (`HTTPValidationError`) is not what the error handlers send.

    The Open Inference Protocol (`/v2`) prescribes its own error body; `/readyz` answers
    its readiness body while not ready.
    """

    def is_documented(path: str, status: str, schema: str | None) -> bool:
        if path.startswith("/v2/") or (path, status) == ("/readyz", "503"):
            return schema not in (None, "HTTPValidationError")
        return schema in ERROR_SCHEMAS

    undocumented = [
        f"{method} {path} {status}: {_schema_name(response)}"
        for method, path, operation in _operations(document)
        for status, response in operation["responses"].items()
        if int(status) >= 400 and not is_documented(path, status, _schema_name(response))
    ]
    assert not undocumented


def test_routes_reading_a_body_document_what_they_answer_before_validating_it(
    document: dict[str, Any],
) -> None:
    for method, path, operation in _operations(document):
        if "requestBody" not in operation:
            continue
        statuses = set(operation["responses"])
        # /recommend is not under /v1, where a body must be declared application/json.
        expected = {"400", "413", "415"} if path != "/recommend" else {"400", "413"}
        assert expected <= statuses, f"{method} {path} documents {sorted(statuses)}"


def test_routes_that_load_models_or_read_the_registry_document_503(
    document: dict[str, Any],
) -> None:
    for method, path, operation in _operations(document):
        if path.startswith(("/v1/", "/classify/", "/recommend")):
            assert "503" in operation["responses"], f"{method} {path}"


def test_routes_that_run_a_model_document_its_timeout(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        if path.endswith("/predict") or path.startswith(("/classify/", "/recommend")):
            assert "504" in operation["responses"], f"{method} {path}"


def test_documented_integer_bounds_are_stated_exactly(document: dict[str, Any]) -> None:
    """FastAPI writes bounds as floats; past 2**53 a float names another integer."""

    def bounds(node: object) -> Iterator[float]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("minimum", "maximum") and node.get("type") == "integer":
                    yield value
                yield from bounds(value)
        elif isinstance(node, list):
            for item in node:
                yield from bounds(item)

    found = list(bounds(document))
    assert found
    assert all(abs(bound) <= 2**53 for bound in found)


def test_a_body_that_is_not_utf8_is_the_documented_400(client: TestClient) -> None:
    """(Malformed JSON in UTF-8 is a 422 naming where it breaks.)"""
    for method, url in (
        ("POST", "/v1/models/echo/predict"),
        ("POST", "/recommend"),
        ("PUT", "/v1/models/echo/aliases/staging"),
    ):
        response = client.request(method, url, content=b"\x80{}", headers={**JSON, **ADMIN})
        assert response.status_code == 400, url
        assert response.json()["code"] == "bad_request"


def test_a_405_allows_every_method_the_path_serves(client: TestClient) -> None:
    response = client.request("DELETE", "/recommend")
    assert response.status_code == 405
    allowed = {method.strip() for method in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed


def test_the_largest_documented_version_is_accepted_and_the_next_refused(
    client: TestClient,
) -> None:
    pinned = client.post(
        f"/v1/models/echo/predict?version={MAX_REQUESTED_VERSION}",
        json={"instances": [{"value": 1}]},
    )
    assert pinned.status_code == 404
    beyond = client.post(
        f"/v1/models/echo/predict?version={MAX_REQUESTED_VERSION + 1}",
        json={"instances": [{"value": 1}]},
    )
    assert beyond.status_code == 422
    url = "/v1/models/echo/aliases/staging"
    moved = client.put(url, json={"version": MAX_REQUESTED_VERSION}, headers=ADMIN)
    assert moved.status_code == 404
    assert moved.json()["code"] == "version_not_found"
    too_far = client.put(url, json={"version": MAX_REQUESTED_VERSION + 1}, headers=ADMIN)
    assert too_far.status_code == 422


def test_alias_of_a_report_only_analysis_moves_without_serving_it(client: TestClient) -> None:
    """An analysis is never loaded: its production alias only picks the report shown."""
    response = client.put(
        "/v1/models/netflix-eda/aliases/production", json={"version": 1}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"model": "netflix-eda", "alias": "production", "version": 1}
    assert client.get("/v1/models/netflix-eda/report?alias=production").status_code == 200


def test_admin_route_without_a_token_is_401_where_admin_routes_are_disabled(home: Path) -> None:
    """The route declares bearer security everywhere: no token is a 401 everywhere."""
    url = "/v1/models/echo/aliases/staging"
    with _client(home, admin_token=None) as client:
        missing = client.put(url, json={"version": 1})
        sent = client.put(url, json={"version": 1}, headers=ADMIN)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "PRACTICA_ADMIN_TOKEN" in missing.json()["detail"]
    assert sent.status_code == 403
