"""Rendering the dashboard's pages: the Jinja2 templates, their filters and the page headers.

Autoescaping is on for every template, so whatever a page shows (model names, aliases,
submitted text, error messages) reaches the browser as text, never as markup. The
Content-Security-Policy is a second wall: scripts, styles and images come from this
origin only, and no inline script runs.
"""

import json
import math
from importlib import resources
from typing import Any

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
ASSET_MEDIA_TYPES = {"ui.css": "text/css", "ui.js": "text/javascript"}
"""The dashboard's static files (in `service/static/`), served by name from memory."""


def format_number(value: Any) -> str:
    """Four significant digits for floats (1e-50 stays readable); the rest as they are."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g}"
    return str(value)


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("service.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt variable fails the test, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["number"] = format_number
    environment.filters["pretty_json"] = _pretty_json
    return environment


_ENVIRONMENT = _environment()
_ASSETS = {
    name: (resources.files("service") / "static" / name).read_bytes() for name in ASSET_MEDIA_TYPES
}


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """The page `template` renders with `context`, with the dashboard's headers."""
    html = _ENVIRONMENT.get_template(template).render(root=root_path(request), **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """A page saying what went wrong (the message is shown as text)."""
    return render(request, "error.html", status=status, status_code=status, message=message)


def asset(name: str) -> Response | None:
    """A static file of the dashboard, or None for any other name."""
    if name not in _ASSETS:
        return None
    return Response(
        _ASSETS[name],
        media_type=ASSET_MEDIA_TYPES[name],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def root_path(request: Request) -> str:
    """The prefix a reverse proxy mounts the app under (uvicorn's --root-path)."""
    root: str = request.scope.get("root_path", "").rstrip("/")
    return root
