"""/docs and /redoc load only same-origin assets, and the app serves every one of them."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from service import ServiceSettings, create_app

PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
# What a browser accepts for each kind of asset; a script sent as text/plain or HTML
# (an error page) would not run.
MEDIA_TYPES = {
    ".js": {"text/javascript", "application/javascript"},
    ".css": {"text/css"},
    ".png": {"image/png"},
    ".json": {"application/json"},
}
# src=, href=, ReDoc's spec-url= and Swagger UI's `url: '…'` option.
_REFERENCE = re.compile(r"""(?:\b(?:src|href|spec-url)=|\burl:\s*)["']([^"']+)["']""")
_ABSOLUTE = re.compile(r"""\b[a-z][a-z0-9+.-]*://[^\s"'<>)]+""", re.IGNORECASE)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    # No `with`: the pages need no loaded model, so the registry is never opened.
    return TestClient(create_app(ServiceSettings(home=tmp_path, log_json=False)))


def references(html: str) -> list[str]:
    return _REFERENCE.findall(html)


@pytest.mark.parametrize("page", PAGES)
def test_page_names_no_other_host(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    foreign = [url for url in _ABSOLUTE.findall(response.text) if urlsplit(url).netloc]
    assert foreign == [], f"{page} loads from another host: {foreign}"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_referenced_asset_is_served(client: TestClient, page: str) -> None:
    html = client.get(page).text
    found = references(html)
    # The page's script, the spec it renders and the favicon at least: a regex that
    # matched nothing must not pass for a page without references.
    assert len(found) >= 3, found
    assert "/openapi.json" in found
    for url in found:
        assert url.startswith("/"), f"{page} references {url!r}, not a same-origin path"
        response = client.get(url)
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        media_type = response.headers["content-type"].split(";")[0].strip()
        assert media_type in MEDIA_TYPES[Path(url).suffix], f"{url} sent as {media_type}"
        assert len(response.content) > 0


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_pages_refuse_images_from_other_hosts(client: TestClient, page: str) -> None:
    # ReDoc's sidebar credit asks redoc.ly for its logo; the policy stops the browser asking.
    assert client.get(page).headers["content-security-policy"] == "img-src 'self' data:"


def test_swagger_ui_gets_its_script_and_stylesheet_from_the_app(client: TestClient) -> None:
    found = references(client.get("/docs").text)
    assert "/docs/assets/swagger-ui-bundle.js" in found
    assert "/docs/assets/swagger-ui.css" in found
    assert "/docs/assets/redoc.standalone.js" in references(client.get("/redoc").text)


def test_the_docs_pages_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]


def test_urls_follow_the_proxy_prefix(tmp_path: Path) -> None:
    app = create_app(ServiceSettings(home=tmp_path, log_json=False))
    proxied = TestClient(app, root_path="/practica")
    found = references(proxied.get("/docs").text)
    assert "/practica/openapi.json" in found
    assert "/practica/docs/assets/swagger-ui-bundle.js" in found
    assert "/practica/docs/assets/redoc.standalone.js" in references(proxied.get("/redoc").text)


def test_an_unknown_asset_is_a_404(client: TestClient) -> None:
    assert client.get("/docs/assets/no-such-file.js").status_code == 404
    assert client.get("/docs/assets/../__init__.py").status_code == 404
