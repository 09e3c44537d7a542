"""The HTTP API in-process: every documented status, and no 500 for any bad input."""

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model_registry import ModelRegistry, RegistrySettings
from service import ServiceSettings, create_app
from training import get_spec

IRIS = {
    "sepal_length_cm": 5.1,
    "sepal_width_cm": 3.5,
    "petal_length_cm": 1.4,
    "petal_width_cm": 0.2,
}
ADMIN = {"Authorization": "Bearer admin-secret"}


def _client(home: Path, **settings: object) -> TestClient:
    options: dict[str, object] = {"home": home, "log_json": False, "admin_token": "admin-secret"}
    options.update(settings)
    return TestClient(create_app(ServiceSettings(**options)))  # type: ignore[arg-type]


@pytest.fixture
def client(home_copy: Path) -> Iterator[TestClient]:
    with _client(home_copy) as opened:
        yield opened


def test_health_readiness_and_model_list(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["serving"]["titanic-survival"] == 2
    listed = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert listed["titanic-survival"]["versions"] == [1, 2]
    assert listed["titanic-survival"]["serving_version"] == 2
    assert listed["iris-pca"]["module"] == 1


def test_model_detail_has_metrics_signature_and_lineage(client: TestClient) -> None:
    detail = client.get("/v1/models/titanic-survival").json()
    first = detail["version_details"][0]
    assert first["metrics"]["cv_accuracy"] > 0
    assert first["signature"]["inputs"]["title"] == "Passenger"
    assert first["lineage"]["dataset_sha256"]["titanic"]
    # Module 13's engineered features (v2) are held to a higher floor than module 8's.
    assert detail["floors"] == {"cv_accuracy": ">= 0.82", "test_accuracy": ">= 0.82"}
    assert first["floors"] == {"cv_accuracy": ">= 0.8", "test_accuracy": ">= 0.8"}
    assert detail["version_details"][1]["floors"] == detail["floors"]


def test_version_and_alias_pinning(client: TestClient) -> None:
    url = "/v1/models/titanic-survival/predict"
    passenger = {"pclass": 1, "name": "Cumings, Mrs. John Bradley", "sex": "female", "age": 38}
    assert client.post(url, json={"instances": [passenger]}).json()["version"] == 2
    assert client.post(f"{url}?version=1", json={"instances": [passenger]}).json()["version"] == 1
    client.put("/v1/models/titanic-survival/aliases/staging", json={"version": 1}, headers=ADMIN)
    assert (
        client.post(f"{url}?alias=staging", json={"instances": [passenger]}).json()["version"] == 1
    )


def test_a_version_named_with_an_alias_wins_on_every_route(client: TestClient) -> None:
    """Predict and report mean the same by `?version=1&alias=production`: version 1."""
    both = "version=1&alias=production"
    predicted = client.post(f"/v1/models/titanic-survival/predict?{both}", json={"instances": [
        {"pclass": 1, "name": "Cumings, Mrs. John Bradley", "sex": "female", "age": 38}
    ]})  # fmt: skip
    assert predicted.json()["version"] == 1
    assert client.get(f"/v1/models/titanic-survival/report?{both}").json()["version"] == 1


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/v1/models/iris-pca/predict?version=9223372036854775808"),
        ("GET", "/v1/models/iris-pca/report?version=9223372036854775808"),
        ("GET", "/v1/models/iris-pca/report/plots/scree?version=99999999999999999999999"),
    ],
)
def test_a_version_beyond_64_bits_is_a_422_naming_it(
    client: TestClient, method: str, url: str
) -> None:
    response = client.request(method, url, json={"instances": [IRIS]})
    assert response.status_code == 422, response.text
    assert ["query", "version"] in [issue["loc"] for issue in response.json()["detail"]]


def test_an_alias_cannot_point_beyond_64_bits(client: TestClient) -> None:
    response = client.put(
        "/v1/models/iris-pca/aliases/staging", json={"version": 2**63}, headers=ADMIN
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "version"]


def test_alias_move_swaps_the_serving_version(client: TestClient) -> None:
    response = client.put(
        "/v1/models/titanic-survival/aliases/production", json={"version": 1}, headers=ADMIN
    )
    assert response.json() == {"model": "titanic-survival", "alias": "production", "version": 1}
    predicted = client.post(
        "/v1/models/titanic-survival/predict",
        json={"instances": [{"pclass": 3, "name": "Doe, Mr. John", "sex": "male"}]},
    )
    assert predicted.json()["version"] == 1
    assert 'practica_serving_version{model="titanic-survival"} 1.0' in client.get("/metrics").text


def test_admin_route_needs_a_token(client: TestClient) -> None:
    url = "/v1/models/iris-pca/aliases/production"
    missing = client.put(url, json={"version": 1})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = client.put(url, json={"version": 1}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "forbidden"


def test_admin_routes_are_refused_when_no_token_is_configured(home_copy: Path) -> None:
    with _client(home_copy, admin_token=None) as client:
        response = client.put(
            "/v1/models/iris-pca/aliases/production", json={"version": 1}, headers=ADMIN
        )
    assert response.status_code == 403
    assert "PRACTICA_ADMIN_TOKEN" in response.json()["detail"]


def test_api_token_guards_prediction_when_set(home_copy: Path) -> None:
    with _client(home_copy, api_token="api-secret") as client:
        url = "/v1/models/iris-pca/predict"
        assert client.post(url, json={"instances": [IRIS]}).status_code == 401
        bearer = {"Authorization": "Bearer api-secret"}
        assert client.post(url, json={"instances": [IRIS]}, headers=bearer).status_code == 200
        assert client.get("/v1/models").status_code == 200  # metadata stays open
        for guarded in ("/classify/cat-dog", "/recommend?title=heat"):
            assert client.post(guarded).status_code == 401, guarded


INFERENCE_OPERATIONS = [
    ("/v1/models/iris-pca/predict", "post"),
    ("/classify/cat-dog", "post"),
    ("/recommend", "post"),
    ("/recommend", "get"),
]


@pytest.mark.parametrize("token", [None, "api-secret"])
def test_openapi_declares_the_api_token_only_where_one_is_set(
    home_copy: Path, token: str | None
) -> None:
    with _client(home_copy, api_token=token) as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path, method in INFERENCE_OPERATIONS:
        operation = paths[path][method]
        assert ("security" in operation) is (token is not None), (path, method)
        assert ({"401", "403"} <= set(operation["responses"])) is (token is not None)


@pytest.mark.parametrize(
    ("method", "url", "body", "code"),
    [
        ("post", "/v1/models/no-such-model/predict", {"instances": [IRIS]}, "model_not_found"),
        ("post", "/v1/models/netflix-eda/predict", {"instances": [IRIS]}, "model_not_found"),
        ("get", "/v1/models/no-such-model", None, "model_not_found"),
        ("get", "/v1/models/no-such-model/report", None, "model_not_found"),
        (
            "post",
            "/v1/models/iris-pca/predict?version=99",
            {"instances": [IRIS]},
            "version_not_found",
        ),
        (
            "post",
            "/v1/models/iris-pca/predict?alias=nothing",
            {"instances": [IRIS]},
            "alias_not_found",
        ),
        ("get", "/v1/models/iris-pca/report?version=99", None, "version_not_found"),
        ("get", "/v1/models/iris-pca/report/plots/no_such_plot", None, "not_found"),
        ("put", "/v1/models/iris-pca/aliases/production", {"version": 99}, "version_not_found"),
    ],
)
def test_unknown_things_are_404(
    client: TestClient, method: str, url: str, body: object, code: str | None
) -> None:
    response = client.request(method.upper(), url, json=body, headers=ADMIN)
    assert response.status_code == 404, response.text
    if code is not None:
        assert response.json()["code"] == code


def test_body_over_the_cap_is_413(home_copy: Path) -> None:
    with _client(home_copy, max_body_bytes=2048) as client:
        big = {"instances": [IRIS] * 100}
        declared = client.post("/v1/models/iris-pca/predict", json=big)
        assert declared.status_code == 413
        assert declared.json()["code"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
            yield b'{"instances": ['
            for _ in range(100):
                yield b'{"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2},'
            yield b"]}"

        streamed = client.post(
            "/v1/models/iris-pca/predict",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        assert streamed.status_code == 413


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "image/png"]
)
def test_wrong_media_type_is_415(client: TestClient, content_type: str) -> None:
    response = client.post(
        "/v1/models/iris-pca/predict", content=b"{}", headers={"content-type": content_type}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


BAD_BODIES = {
    "not json": b"{not json",
    "json array": b"[1, 2]",
    "no instances": b"{}",
    "instances not a list": b'{"instances": 3}',
    "empty list": b'{"instances": []}',
    "string measurement": b'{"instances": [{"sepal_length_cm": "long", "sepal_width_cm": 3, "petal_length_cm": 1, "petal_width_cm": 1}]}',
    "NaN": b'{"instances": [{"sepal_length_cm": NaN, "sepal_width_cm": 3, "petal_length_cm": 1, "petal_width_cm": 1}]}',
    "Infinity": b'{"instances": [{"sepal_length_cm": Infinity, "sepal_width_cm": 3, "petal_length_cm": 1, "petal_width_cm": 1}]}',
    "huge number": b'{"instances": [{"sepal_length_cm": 1e400, "sepal_width_cm": 3, "petal_length_cm": 1, "petal_width_cm": 1}]}',
    "negative": b'{"instances": [{"sepal_length_cm": -1, "sepal_width_cm": 3, "petal_length_cm": 1, "petal_width_cm": 1}]}',
    "extra field": b'{"instances": [{"sepal_length_cm": 1, "sepal_width_cm": 3, "petal_length_cm": 1, "petal_width_cm": 1, "x": 1}]}',
    "null instance": b'{"instances": [null]}',
    "deep nesting": b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "invalid utf-8": b'{"instances": ["\xff\xfe"]}',
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bodies_get_422_naming_the_problem(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/v1/models/iris-pca/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    detail = response.json()["detail"]
    if response.status_code == 422:
        assert detail[0]["loc"][0] == "body"
    else:  # JSON too deeply nested to parse at all
        assert "parsing the body" in detail
    assert "Traceback" not in response.text
    assert "/work" not in response.text


def test_422_names_the_field_and_reason(client: TestClient) -> None:
    bad = {**IRIS, "petal_width_cm": -2}
    response = client.post("/v1/models/iris-pca/predict", json={"instances": [IRIS, bad]})
    assert response.status_code == 422
    [issue] = response.json()["detail"]
    assert issue["loc"] == ["body", "instances", 1, "petal_width_cm"]
    assert "greater than 0" in issue["msg"]


@pytest.mark.parametrize(
    "url",
    [
        "/v1/models/..%2F..%2Fetc%2Fpasswd",
        "/v1/models/iris-pca/report/plots/..%2F..%2Fregistry.db",
        "/v1/models/iris-pca/report/plots/%00",
        "/v1/models/IRIS-PCA",
        "/v1/models/" + "a" * 500,
        "/v1/models/iris-pca/report?version=-1",
        "/v1/models/iris-pca/report?version=abc",
        "/v1/models/iris-pca/report?alias=..%2F",
    ],
)
def test_hostile_paths_never_reach_the_filesystem_or_500(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code in (404, 422), response.text
    assert "registry.db" not in response.text
    assert "passwd" not in response.text


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"x-request-id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    generated = client.get("/healthz", headers={"x-request-id": "bad id with spaces"}).headers[
        "x-request-id"
    ]
    assert len(generated) == 32


def test_metrics_count_requests_errors_and_latency(client: TestClient) -> None:
    client.post("/v1/models/iris-pca/predict", json={"instances": [IRIS]})
    client.post("/v1/models/iris-pca/predict", json={"instances": []})
    text = client.get("/metrics").text
    assert 'practica_predict_requests_total{model="iris-pca",outcome="ok"} 1.0' in text
    assert 'practica_predict_errors_total{model="iris-pca",status="422"} 1.0' in text
    assert (
        'practica_http_request_duration_seconds_bucket{le="0.005",route="/v1/models/iris-pca/predict"}'
        in text
    )
    assert 'practica_serving_version{model="iris-pca"} 1.0' in text


def test_openapi_lists_every_route_with_typed_bodies(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {
        "/v1/models",
        "/v1/models/{name}",
        "/v1/models/{name}/report",
        "/v1/models/{name}/aliases/{alias}",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(spec["paths"])
    body = spec["paths"]["/v1/models/iris-pca/predict"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert body["schema"]["$ref"].endswith("PredictRequest_IrisMeasurements_")
    assert not math.isnan(body["examples"]["example"]["value"]["instances"][0]["sepal_length_cm"])


def test_the_default_alias_decides_reports_as_it_decides_predictions(home_copy: Path) -> None:
    """A server whose PRACTICA_DEFAULT_ALIAS is `staging` shows, without a pin, the report
    and plots of the version it predicts with: not `production`'s."""
    with ModelRegistry.from_settings(RegistrySettings(home=home_copy)) as registry:
        registry.set_alias("titanic-survival", "staging", 1)  # production stays on v2
    with _client(home_copy, default_alias="staging") as client:
        passenger = get_spec("titanic-survival").example_input.model_dump(mode="json")  # type: ignore[union-attr]
        predicted = client.post(
            "/v1/models/titanic-survival/predict", json={"instances": [passenger]}
        )
        report = client.get("/v1/models/titanic-survival/report").json()
        plot = client.get(f"/v1/models/titanic-survival/report/plots/{report['plots'][0]['name']}")
        pinned = client.get("/v1/models/titanic-survival/report?alias=production").json()
        by_link = client.get(report["plots"][0]["url"])
    assert predicted.json()["version"] == report["version"] == 1
    assert plot.status_code == 200
    assert plot.content == by_link.content
    assert pinned["version"] == 2
