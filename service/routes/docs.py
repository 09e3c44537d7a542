"""The API docs, `/docs` (Swagger UI) and `/redoc` (ReDoc), with every asset served by the app.

FastAPI's own pages load their scripts from a public CDN, so they render blank on a
network that cannot reach it (an air-gapped cluster, a laptop on a train). Here the
scripts, stylesheet and favicon come from the pinned `fastapi-offline` distribution
(Swagger UI 5.32.6, ReDoc 2.5.3) and are served under `ASSETS_URL`; the pages then
load nothing but same-origin URLs.
"""

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

ASSETS_URL = "/docs/assets"
ASSETS_PACKAGE = "fastapi_offline"  # pinned in pyproject.toml; read in place, never imported
# ReDoc's sidebar credit loads its logo from redoc.ly on every view (it hides the image
# when that fails). With images limited to this origin the browser never asks, so no
# reader of the docs calls a third party; scripts and styles are left unrestricted.
IMAGE_POLICY = {"Content-Security-Policy": "img-src 'self' data:"}


def install_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve the docs pages of `app`, which must be created with `docs_url=None, redoc_url=None`."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError(
            "create the app with docs_url=None and redoc_url=None: "
            "install_docs serves those pages itself"
        )
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the docs pages need the OpenAPI document: leave openapi_url set")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url

    app.mount(ASSETS_URL, StaticFiles(directory=assets_directory()), name="docs-assets")

    # Plain routes, as FastAPI adds its own docs pages: no dependency injection per call.
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}" if oauth2_redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        page.headers.update(IMAGE_POLICY)
        return page

    async def swagger_ui_oauth2_redirect(_request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,  # the fonts are a CDN too; ReDoc falls back to system fonts
        )
        page.headers.update(IMAGE_POLICY)
        return page

    app.add_route(docs_url, swagger_ui, include_in_schema=False)
    if oauth2_redirect_url:
        app.add_route(oauth2_redirect_url, swagger_ui_oauth2_redirect, include_in_schema=False)
    app.add_route(redoc_url, redoc, include_in_schema=False)


def assets_directory() -> Path:
    """The `static/` folder of the installed assets package, found without importing it."""
    spec = importlib.util.find_spec(ASSETS_PACKAGE)
    directory = Path(spec.origin).parent / "static" if spec and spec.origin else None
    if directory is None or not (directory / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(
            "the API docs assets (package fastapi-offline) are missing: install "
            "Practica's dependencies again, e.g. `pip install -e .` in a checkout"
        )
    return directory


def _root_path(request: Request) -> str:
    """The prefix a reverse proxy mounts the app under (uvicorn's --root-path), as FastAPI uses."""
    root: str = request.scope.get("root_path", "").rstrip("/")
    return root
