"""/docs and /redoc in headless Chromium against `practica serve`, with every other host cut off."""

import json
from typing import Any

import httpx
import pytest

from tests.e2e.browser import BrowserPage
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

OPERATION_ID = "predict-predict_iris_pca"
PATH = "/v1/models/iris-pca/predict"


def openapi(server: Server) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{server.url}/openapi.json").json()
    return document


def operation_count(document: dict[str, Any]) -> int:
    return sum(len(operations) for operations in document["paths"].values())


def request_example(document: dict[str, Any]) -> Any:
    body = document["paths"][PATH]["post"]["requestBody"]["content"]["application/json"]
    return body["examples"]["example"]["value"]


def test_swagger_ui_renders_every_operation_and_its_example(
    browser_page: BrowserPage, read_only_server: Server
) -> None:
    document = openapi(read_only_server)
    page = browser_page.page
    page.goto(f"{read_only_server.url}/docs")
    operations = page.locator(".opblock")
    operations.first.wait_for()  # SwaggerUIBundle ran and rendered the fetched document
    assert operations.count() == operation_count(document)

    predict = page.locator(
        ".opblock", has=page.locator(f".opblock-summary-path[data-path='{PATH}']")
    )
    predict.locator(".opblock-summary-control").click()
    request_body = predict.locator(".opblock-section-request-body")
    example = request_body.locator(".highlight-code").first
    example.wait_for()
    assert request_body.locator(".examples-select-element").input_value() == "example"
    assert json.loads(example.inner_text()) == request_example(document)

    browser_page.screenshot("swagger-ui", full_page=True)
    assert browser_page.script_errors == []
    assert browser_page.foreign_requests == []


def test_redoc_renders_the_api_and_its_examples(
    browser_page: BrowserPage, read_only_server: Server
) -> None:
    document = openapi(read_only_server)
    page = browser_page.page
    page.goto(f"{read_only_server.url}/redoc")
    title = page.locator("h1").first
    title.wait_for()  # Redoc ran and rendered the fetched document
    assert title.inner_text() == f"{document['info']['title']} ({document['info']['version']})"
    assert page.locator("[data-section-id^='operation/']").count() == operation_count(document)

    section = page.locator(f"[data-section-id='operation/{OPERATION_ID}']")
    section.scroll_into_view_if_needed()
    assert PATH in section.inner_text()
    # The request sample comes first; Redoc folds its nested objects until asked.
    section.get_by_text("Expand all").first.click()
    shown = section.inner_text()
    for field_name, value in request_example(document)["instances"][0].items():
        assert f'"{field_name}": {json.dumps(value)}' in shown
    # The sidebar's credit logo lives on redoc.ly: the page's image policy refuses it,
    # and Redoc drops the image instead of showing a broken one.
    assert page.locator("img[alt='redocly logo']").count() == 0

    browser_page.screenshot("redoc")
    assert browser_page.script_errors == []
    assert browser_page.foreign_requests == []
