"""The /ui dashboard in headless Chromium against `practica serve`, every other host cut off.

A reader opens the catalog, follows a model, reads its report plot and asks it for an
answer; the same journey works with JavaScript disabled. Screenshots of the catalog, a
model page and try-it answers are saved as test artifacts.
"""

import io
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route

from tests.e2e.browser import LOCAL_HOSTS, BrowserPage
from tests.e2e.conftest import ADMIN_TOKEN, Server
from training import CATALOG
from training.models.house_prices import HousePrices

pytestmark = pytest.mark.e2e

MODEL = HousePrices.name  # numbers and a check box in its form, two plots in its report


@pytest.fixture
def no_script_page(browser: Browser) -> Iterator[BrowserPage]:
    """A page with JavaScript disabled, cut off from every host but the loopback."""
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(30_000)
    page = BrowserPage(context.new_page())

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            page.foreign_requests.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_loopback)
    try:
        yield page
    finally:
        context.close()


def open_model_from_catalog(page: Page, server: Server, name: str) -> None:
    page.goto(f"{server.url}/ui")
    page.locator("#catalog").get_by_role("link", name=name, exact=True).click()
    page.wait_for_url(f"{server.url}/ui/models/{name}")


def api_prediction(server: Server, name: str, instance: dict[str, object]) -> dict[str, object]:
    response = httpx.post(f"{server.url}/v1/models/{name}/predict", json={"instances": [instance]})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def answer_json(page: Page) -> dict[str, object]:
    answer: dict[str, object] = json.loads(page.locator("#answer-json").text_content() or "")
    return answer


def photo(tmp_path: Path) -> Path:
    """A small JPEG: the upload the cat-vs-dog form sends."""
    path = tmp_path / "photo.jpg"
    image = Image.new("RGB", (96, 96), (180, 140, 90))
    image.paste((40, 30, 20), (24, 24, 72, 72))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def test_catalog_lists_every_model_and_leads_to_its_page(
    browser_page: BrowserPage, read_only_server: Server
) -> None:
    page = browser_page.page
    page.goto(f"{read_only_server.url}/ui")
    rows = page.locator("#catalog tbody tr")
    assert rows.count() == len(CATALOG)
    row = page.locator(f"#catalog tr[data-model='{MODEL}']")
    assert "test_r2" in row.locator("td.headline").inner_text()
    assert row.locator("td.production").inner_text() == "v1 smoke"  # floors apply to full
    browser_page.screenshot("dashboard-catalog", full_page=True)

    row.get_by_role("link", name=MODEL, exact=True).click()
    page.wait_for_url(f"{read_only_server.url}/ui/models/{MODEL}")
    assert page.locator("#model-name").inner_text() == MODEL
    assert browser_page.script_errors == []
    assert browser_page.foreign_requests == []


def test_model_page_shows_report_plots(browser_page: BrowserPage, read_only_server: Server) -> None:
    page = browser_page.page
    open_model_from_catalog(page, read_only_server, MODEL)
    assert page.locator("#aliases").inner_text() == "production → v1"
    assert "test_r2" in page.locator("#metrics").inner_text()
    plot = page.locator("figure.plot img").first
    plot.scroll_into_view_if_needed()
    page.wait_for_function(
        "image => image.complete && image.naturalWidth > 0", arg=plot.element_handle()
    )
    browser_page.screenshot("dashboard-model", full_page=True)

    # Following the plot opens the PNG itself, as the report route serves it.
    with page.expect_navigation() as navigation:
        page.locator("figure.plot a").first.click()
    response = navigation.value
    assert response is not None
    assert response.ok
    assert response.headers["content-type"] == "image/png"
    assert browser_page.script_errors == []
    assert browser_page.foreign_requests == []


def test_try_it_answers_in_place(browser_page: BrowserPage, read_only_server: Server) -> None:
    page = browser_page.page
    open_model_from_catalog(page, read_only_server, MODEL)
    form = page.locator("form[data-try]")
    form.locator("input[name='rooms_per_dwelling']").fill("8.5")
    form.get_by_role("button", name="Predict").click()
    prediction = page.locator("#prediction")
    prediction.wait_for()

    instance = HousePrices.example_input.model_dump(mode="json") | {"rooms_per_dwelling": 8.5}
    expected = api_prediction(read_only_server, MODEL, instance)
    assert answer_json(page) == expected
    assert page.url == f"{read_only_server.url}/ui/models/{MODEL}"  # no page load: in place
    assert "median_value_k_usd" in prediction.inner_text()
    prediction.scroll_into_view_if_needed()
    browser_page.screenshot("dashboard-try-answer")
    assert browser_page.script_errors == []
    assert browser_page.foreign_requests == []


def test_try_it_classifies_an_uploaded_photo(
    browser_page: BrowserPage, read_only_server: Server, tmp_path: Path
) -> None:
    page = browser_page.page
    open_model_from_catalog(page, read_only_server, "cat-dog")
    upload = photo(tmp_path)
    page.locator("form[data-try] input[type='file']").set_input_files(str(upload))
    assert page.locator("#upload-preview").is_visible()  # previewed before it is sent
    page.get_by_role("button", name="Predict").click()
    page.locator("#prediction").wait_for()

    expected = httpx.post(
        f"{read_only_server.url}/classify/cat-dog",
        files={"file": ("photo.jpg", upload.read_bytes(), "image/jpeg")},
    ).json()
    assert answer_json(page) == expected
    assert page.locator("#prediction").inner_text().split()[:2] == [
        "label",
        expected["predictions"][0]["label"],
    ]
    browser_page.screenshot("dashboard-try-image-answer")
    assert browser_page.script_errors == []


def test_try_it_recommends_movies_from_a_title(
    browser_page: BrowserPage, read_only_server: Server
) -> None:
    page = browser_page.page
    open_model_from_catalog(page, read_only_server, "movie-recommender")
    page.locator("form[data-try] input[name='title']").fill("the matrix")
    page.get_by_role("button", name="Predict").click()
    page.locator("#prediction").wait_for()

    expected = httpx.post(f"{read_only_server.url}/recommend", json={"title": "the matrix"}).json()
    predictions = answer_json(page)["predictions"]
    assert isinstance(predictions, list)
    [answer] = predictions
    assert answer["matched_title"] == expected["matched_title"] == "Matrix, The (1999)"
    assert answer["recommendations"] == expected["recommendations"]
    shown = page.locator("#prediction").inner_text()
    assert all(movie["title"] in shown for movie in expected["recommendations"])
    assert browser_page.script_errors == []


def test_pages_read_and_answer_with_javascript_disabled(
    no_script_page: BrowserPage, read_only_server: Server
) -> None:
    page = no_script_page.page
    open_model_from_catalog(page, read_only_server, MODEL)
    assert page.locator("figure.plot img").count() >= 1
    assert "test_r2" in page.locator("#metrics").inner_text()

    page.locator("form[data-try] input[name='rooms_per_dwelling']").fill("5")
    with page.expect_navigation():
        page.get_by_role("button", name="Predict").click()
    assert page.url == f"{read_only_server.url}/ui/models/{MODEL}/try"
    instance = HousePrices.example_input.model_dump(mode="json") | {"rooms_per_dwelling": 5.0}
    assert answer_json(page) == api_prediction(read_only_server, MODEL, instance)
    # The form comes back filled in, ready for the next try.
    assert page.locator("input[name='rooms_per_dwelling']").input_value() == "5"
    no_script_page.screenshot("dashboard-try-answer-no-javascript", full_page=True)
    assert no_script_page.foreign_requests == []


def test_admin_moves_an_alias_with_the_token(browser_page: BrowserPage, server: Server) -> None:
    page = browser_page.page
    name = "titanic-survival"  # two versions; production on v2
    open_model_from_catalog(page, server, name)
    assert page.locator("#aliases").inner_text() == "production → v2"
    admin = page.locator("#admin form")
    admin.locator("select[name='version']").select_option("1")

    admin.locator("input[name='admin_token']").fill("not-the-token")
    admin.get_by_role("button", name="Move alias").click()
    assert page.locator("#error-message").inner_text() == "invalid admin token"
    assert httpx.get(f"{server.url}/v1/models/{name}").json()["aliases"]["production"] == 2

    page.go_back()
    admin.locator("select[name='version']").select_option("1")
    admin.locator("input[name='admin_token']").fill(ADMIN_TOKEN)
    admin.get_by_role("button", name="Move alias").click()
    assert page.locator("#notice").inner_text() == "production now points at version 1"
    assert page.locator("#aliases").inner_text() == "production → v1"
    passenger = {"pclass": 1, "name": "Cumings, Mrs. John Bradley", "sex": "female", "age": 38}
    assert api_prediction(server, name, passenger)["version"] == 1
    assert browser_page.script_errors == []
    assert browser_page.foreign_requests == []
