"""The predict fast path answers exactly as the FastAPI route it stands in for.

Every servable model gets the same requests, valid and not, twice: once through the app
as it serves (the fast path answers), once through the same app without the fast path
(FastAPI's routing, dependencies and validation answer). Status, body and the headers a
client reads must be identical.
"""

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service import ServiceSettings, create_app
from service.predict_fast_path import PredictFastPath
from training import CATALOG, ModelSpec

SERVABLE = [spec for spec in CATALOG if isinstance(spec, ModelSpec)]
TOKEN = "fast-path-token"
Request = tuple[str, dict[str, str], bytes]  # query, headers, body


def without_fast_path(app: FastAPI) -> FastAPI:
    app.user_middleware = [m for m in app.user_middleware if m.cls is not PredictFastPath]
    return app


@pytest.fixture(scope="module", params=[None, TOKEN], ids=["open", "token"])
def clients(
    trained_home: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[TestClient, TestClient]]:
    settings = ServiceSettings(home=trained_home, log_json=False, api_token=request.param)
    with (
        TestClient(create_app(settings)) as fast,
        TestClient(without_fast_path(create_app(settings))) as reference,
    ):
        yield fast, reference


def requests_for(example: dict[str, Any]) -> list[Request]:
    json_headers = {"content-type": "application/json"}
    valid = json.dumps({"instances": [example]}).encode()
    first_field = next(iter(example))
    bodies = [
        valid,
        json.dumps({"instances": [example, example]}).encode(),
        b"",
        b"null",
        b"[]",
        b"{}",
        b'"instances"',
        b'{"instances": []}',
        b'{"instances": [{}]}',
        b'{"instances": [null]}',
        json.dumps({"instances": [example], "extra": 1}).encode(),
        json.dumps({"instances": [{**example, "unexpected": 1}]}).encode(),
        json.dumps({"instances": [example] * 1001}).encode(),
        # More invalid fields than a 422 lists; then the same in a body parsed off the loop.
        json.dumps({"instances": [{}] * 1000}).encode(),
        json.dumps({"instances": [{**example, "unexpected": "x" * 80}] * 900}).encode(),
        json.dumps({"instances": [{**example, first_field: None}]}).encode(),
        # What json.loads reads and orjson refuses: NaN, a huge integer, another encoding.
        json.dumps({"instances": [{**example, first_field: float("nan")}]}).encode(),
        json.dumps({"instances": [{**example, first_field: 10**30}]}).encode(),
        # 20 digits in a row go to json.loads (orjson makes a float of an integer beyond
        # 64 bits); 19 stay with orjson.
        json.dumps({"instances": [{**example, first_field: -(10**19)}]}).encode(),
        json.dumps({"instances": [{**example, first_field: 2**64}]}).encode(),
        json.dumps({"instances": [{**example, first_field: 10**19 - 1}]}).encode(),
        b'{"instances": ['
        + json.dumps(example).encode()[:-1]
        + b', "x": 0.12345678901234567890123}]}',
        json.dumps({"instances": [{**example, first_field: 1e400}]}).encode(),
        json.dumps({"instances": [example]}).encode("utf-16"),
        b"\xef\xbb\xbf" + valid,
        b'{"instances": [{"a": "\\ud800"}]}',
        b'{"instances": 1, "instances": [' + json.dumps(example).encode() + b"]}",
        b"{",
        b'{"instances": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
        b"\xff\xfe\xfd",
        valid + b" trailing",
    ]
    queries = ["", "version=1", "alias=production", "version=1&alias=nowhere", "version=99",
               "version=0", "version=abc", "version=", "alias=BAD", "alias=",
               "version=2&version=1", "version=9223372036854775808", "other=1"]  # fmt: skip
    requests = [(query, json_headers, valid) for query in queries]
    requests += [("", json_headers, body) for body in bodies]
    requests += [("version=abc", json_headers, b'{"instances": []}')]
    for authorization in ["", f"Bearer {TOKEN}", "Bearer wrong", f"bearer  {TOKEN} ", "Bearer",
                          f"Basic {TOKEN}", "Bearer " + "x" * 200]:  # fmt: skip
        headers = {**json_headers, "authorization": authorization}
        requests += [("", headers, valid), ("", headers, b"{"), ("version=0", headers, b"{}")]
    return requests


@pytest.mark.parametrize("spec", SERVABLE, ids=lambda spec: spec.name)
def test_every_answer_is_the_routes_own(
    clients: tuple[TestClient, TestClient], spec: ModelSpec[Any, Any, Any, Any, Any]
) -> None:
    fast, reference = clients
    path = f"/v1/models/{spec.name}/predict"
    for query, headers, body in requests_for(spec.example_input.model_dump(mode="json")):
        url = f"{path}?{query}" if query else path
        ours = fast.post(url, content=body, headers=headers)
        theirs = reference.post(url, content=body, headers=headers)
        what = f"{spec.name} {query!r} {headers.get('authorization')!r} {body[:60]!r}"
        assert ours.status_code == theirs.status_code, what
        assert ours.json() == theirs.json(), what
        for header in ("content-type", "www-authenticate"):
            assert ours.headers.get(header) == theirs.headers.get(header), (what, header)
        assert ours.status_code < 500, what


def test_the_fast_path_answers_predict_routes_and_nothing_else(
    clients: tuple[TestClient, TestClient],
) -> None:
    fast, _ = clients
    headers = {"authorization": f"Bearer {TOKEN}"}  # ignored on the open server
    # A method the route does not serve, an unknown model and a near-miss path reach the
    # app's routing, which answers them as before.
    assert fast.get("/v1/models/iris-pca/predict").status_code == 405
    assert fast.get("/v1/models/iris-pca/predict").headers["allow"] == "POST"
    unknown = fast.post(
        "/v1/models/no-such-model/predict", json={"instances": [{}]}, headers=headers
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "model_not_found")
    slash = fast.post("/v1/models/iris-pca/predict/", json={}, follow_redirects=False)
    assert (slash.status_code, slash.headers["location"]) == (
        307,
        "http://testserver/v1/models/iris-pca/predict",
    )


def test_metrics_name_the_route_a_fast_answer_came_from(
    clients: tuple[TestClient, TestClient],
) -> None:
    fast, _ = clients
    headers = {"authorization": f"Bearer {TOKEN}"}
    example = {"instances": [CATALOG[0].example_input.model_dump(mode="json")]}  # type: ignore[union-attr]
    assert fast.post("/v1/models/iris-pca/predict", json=example, headers=headers).is_success
    assert fast.post("/v1/models/iris-pca/predict", json={}, headers=headers).status_code == 422
    exposition = fast.get("/metrics").text
    assert 'route="/v1/models/iris-pca/predict",status="200"' in exposition
    assert 'practica_predict_errors_total{model="iris-pca",status="422"}' in exposition
    assert 'practica_predict_requests_total{model="iris-pca",outcome="ok"}' in exposition


def test_an_unexpected_error_is_a_logged_json_500_with_the_request_id(
    trained_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The fast path runs outside FastAPI's error middleware: it answers a bug itself, as
    that middleware answers one on any other route."""

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug in the model's code")

    settings = ServiceSettings(home=trained_home, log_json=False)
    example = {"instances": [CATALOG[0].example_input.model_dump(mode="json")]}  # type: ignore[union-attr]
    apps = [create_app(settings), without_fast_path(create_app(settings))]
    # Added once the apps have configured logging, which resets the service's loggers.
    errors_logger = logging.getLogger("service.errors")  # it does not propagate
    errors_logger.addHandler(caplog.handler)
    try:
        for app in apps:
            with TestClient(app, raise_server_exceptions=False) as client:
                monkeypatch.setattr(app.state.inference, "infer", broken)
                caplog.clear()
                answer = client.post(
                    "/v1/models/iris-pca/predict", json=example, headers={"x-request-id": "bug-1"}
                )
            assert answer.status_code == 500
            assert answer.json() == {
                "detail": "internal error; see the server log", "code": "internal"
            }  # fmt: skip
            assert answer.headers["x-request-id"] == "bug-1"
            logged = [r for r in caplog.records if r.exc_info and r.name == "service.errors"]
            assert logged, "the error's traceback is logged"
            assert "a bug in the model's code" in str(logged[0].exc_info[1])  # type: ignore[index]
    finally:
        errors_logger.removeHandler(caplog.handler)
