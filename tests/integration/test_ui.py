"""The /ui dashboard in-process: pages, try-it answers, the admin alias move and escaping.

Real smoke-trained models where the page needs a real report (plots, floors, a title
box), fakes for the image upload and the alias move.
"""

import html
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from model_registry import ModelRegistry, RegistrySettings
from service import ServiceSettings, create_app
from tests.fakes import EchoConfig, EchoSpec, ImageShapeSpec, publish_fake_version
from training import AnySpec, Floor, train_and_publish
from training.models.gd_quadratic import GdQuadratic
from training.models.house_prices import HousePrices
from training.models.movie_recommender import MovieRecommender
from training.models.netflix_eda import NetflixEda
from training.models.xor_net import XorNet
from training.runner import train_stage

ADMIN_TOKEN = "admin-secret"
HOSTILE = "<script>alert(1)</script>"
HOSTILE_NAME = '"><img src=x onerror=alert(1)>'
"""Markup without a slash, so that it stays one path segment."""


class FlooredEcho(EchoSpec):
    """The echo model with a floor its second version meets and its first does not."""

    floors = (Floor("offset", minimum=1.0),)


CATALOG: list[AnySpec] = [
    GdQuadratic(),
    NetflixEda(),
    HousePrices(),
    MovieRecommender(),
    FlooredEcho(),
    ImageShapeSpec(),
    XorNet(),  # never trained here
]


@pytest.fixture(scope="module")
def ui_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ui-home")
    registry = ModelRegistry.from_settings(RegistrySettings(home=home))
    try:
        for spec in (GdQuadratic(), NetflixEda(), HousePrices(), MovieRecommender()):
            train_and_publish(spec, registry, profile="smoke")
        publish_fake_version(registry, FlooredEcho(), offset=0.0)
        publish_fake_version(registry, FlooredEcho(), offset=2.0)
        registry.set_alias("echo", "production", 2)
        train_stage(ImageShapeSpec(), EchoConfig(), registry, profile="full")
    finally:
        registry.close()
    return home


def _client(home: Path, **settings: Any) -> TestClient:
    options: dict[str, Any] = {"home": home, "log_json": False, **settings}
    return TestClient(create_app(ServiceSettings(**options), catalog=CATALOG))


@pytest.fixture(scope="module")
def client(ui_home: Path) -> Iterator[TestClient]:
    """A server without an admin token: reading and trying only."""
    with _client(ui_home) as opened:
        yield opened


@pytest.fixture
def admin_client(ui_home: Path, tmp_path: Path) -> Iterator[TestClient]:
    """A server with an admin token, on a copy of the home (its aliases move)."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(ui_home, home)
    with _client(home, admin_token=ADMIN_TOKEN, alias_poll_s=3600) as opened:
        yield opened


def _page(response: Any, status: int = 200) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    text: str = response.text
    return text


def _element(page: str, element_id: str) -> str:
    """The inner HTML of the element with this id (one without nested same-name tags)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.DOTALL)
    assert found, f"no #{element_id} in the page"
    return found.group(2)


def _text(fragment: str) -> str:
    """What a reader sees of an HTML fragment: its words, single-spaced."""
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
    return re.sub(r" ([:,])", r"\1", words)


def _answer_json(page: str) -> Any:
    return json.loads(html.unescape(_element(page, "answer-json")))


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()


# ----------------------------------------------------------------- reading pages


def test_catalog_lists_every_model_with_its_headline_metric_and_floor(client: TestClient) -> None:
    page = _page(client.get("/ui"))
    rows = dict(re.findall(r'<tr data-model="([a-z0-9-]+)">(.*?)</tr>', page, re.DOTALL))
    assert list(rows) == [spec.name for spec in CATALOG]
    echo = _text(rows["echo"])
    assert "v2" in echo  # production and serving
    assert "offset 2 meets ≥ 1" in echo
    houses = _text(rows["house-prices"])
    assert "test_r2" in houses
    assert "≥ 0.7" in houses
    assert "report only" in _text(rows["netflix-eda"])
    assert 'href="/ui/models/house-prices"' in page


def test_model_page_shows_versions_aliases_lineage_metrics_and_plots(client: TestClient) -> None:
    detail = client.get("/v1/models/house-prices").json()
    [version] = detail["version_details"]
    report = client.get("/v1/models/house-prices/report").json()
    page = _page(client.get("/ui/models/house-prices"))

    assert _text(_element(page, "aliases")) == "production → v1"
    lineage = _text(_element(page, "lineage"))
    for digest in version["lineage"]["dataset_sha256"].values():
        assert digest in lineage
    assert "smoke profile" in lineage
    metrics = _text(_element(page, "metrics"))
    assert f"test_r2 {version['metrics']['test_r2']:.4g}" in metrics
    plots = re.findall(r'<img src="([^"]+)"', page)
    assert plots == [html.escape(plot["url"]) for plot in report["plots"]]
    assert plots, "the smoke-trained version has report plots"
    for url in plots:
        image = client.get(html.unescape(url))
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"


def test_model_page_marks_a_metric_below_its_floor(client: TestClient) -> None:
    page = _page(client.get("/ui/models/echo?version=1"))
    assert "offset 0 below ≥ 1" in _text(_element(page, "metrics"))
    assert 'class="selected" aria-current="true"' in page


def test_report_only_analysis_has_no_try_form(client: TestClient) -> None:
    page = _page(client.get("/ui/models/netflix-eda"))
    assert 'id="report"' in page
    assert "data-try" not in page


def test_form_fields_follow_the_input_schema(client: TestClient) -> None:
    houses = _page(client.get("/ui/models/house-prices"))
    assert re.search(r'<input type="checkbox" name="borders_charles_river"', houses)
    assert re.search(r'name="rooms_per_dwelling" type="number" step="any" value="6.575"', houses)
    quadratic = _page(client.get("/ui/models/gd-quadratic"))
    assert re.search(
        r'name="max_steps" type="number" step="1" value="500" min="1" max="10000">', quadratic
    )
    assert 'Max Steps <span class="muted">(optional)</span>' in quadratic
    movies = _page(client.get("/ui/models/movie-recommender"))
    assert re.search(r'name="title" type="text" value="Toy Story \(1995\)" required', movies)
    assert "POST /recommend" in movies
    image = _page(client.get("/ui/models/image-shape"))
    assert 'enctype="multipart/form-data"' in image
    assert re.search(r'<input type="file" name="file"', image)


def test_pages_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/ui")]


def test_static_files_are_served_by_name_only(client: TestClient) -> None:
    css = client.get("/ui/static/ui.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert client.get("/ui/static/ui.js").headers["content-type"].startswith("text/javascript")
    for name in ("ui.py", "..%2Fapp.py", "%2E%2E%2F%2E%2E%2Fpyproject.toml"):
        assert client.get(f"/ui/static/{name}").status_code == 404


# ----------------------------------------------------------------- try it


def test_try_answers_what_the_predict_route_answers(client: TestClient) -> None:
    example = HousePrices.example_input.model_dump(mode="json")
    form = {k: str(v) for k, v in example.items() if not isinstance(v, bool)}
    if example["borders_charles_river"]:
        form["borders_charles_river"] = "true"
    page = _page(client.post("/ui/models/house-prices/try", data=form))
    expected = client.post("/v1/models/house-prices/predict", json={"instances": [example]})
    assert _answer_json(page) == expected.json()
    value = expected.json()["predictions"][0]["median_value_k_usd"]
    assert f"median_value_k_usd {value:.4g}" in _text(_element(page, "prediction"))


def test_try_leaves_empty_optional_fields_out(client: TestClient) -> None:
    form = {"a": "2", "b": "-8", "c": "3", "x0": "10", "learning_rate": "", "max_steps": ""}
    page = _page(client.post("/ui/models/gd-quadratic/try", data=form))
    answer = _answer_json(page)["predictions"][0]
    assert answer["converged"] is True
    assert abs(answer["minimum_x"] - 2.0) < 1e-3


def test_try_pins_a_version(client: TestClient) -> None:
    pinned = _page(client.post("/ui/models/echo/try", data={"value": "1", "_version": "1"}))
    assert _answer_json(pinned)["version"] == 1
    serving = _page(client.post("/ui/models/echo/try", data={"value": "1", "_version": ""}))
    assert _answer_json(serving)["predictions"][0]["value"] == 3.0


def test_try_recommends_movies_from_a_title(client: TestClient) -> None:
    page = _page(
        client.post("/ui/models/movie-recommender/try", data={"title": "toy story", "k": "3"})
    )
    answer = _answer_json(page)["predictions"][0]
    assert answer["matched_title"] == "Toy Story (1995)"
    assert len(answer["recommendations"]) == 3
    shown = _text(_element(page, "prediction"))
    for movie in answer["recommendations"]:
        assert movie["title"] in shown


def test_try_classifies_an_uploaded_image(client: TestClient) -> None:
    response = client.post(
        "/ui/models/image-shape/try", files={"file": ("photo.png", _png(12, 7), "image/png")}
    )
    answer = _answer_json(_page(response))["predictions"][0]
    assert (answer["width"], answer["height"]) == (12, 7)


@pytest.mark.parametrize(
    ("files", "status", "reason"),
    [
        ({"file": ("notes.txt", b"plain text, not an image", "text/plain")}, 415, "JPEG"),
        ({"file": ("photo.png", _png(4, 4)[:40], "image/png")}, 422, ""),
        ({"other": ("photo.png", _png(4, 4), "image/png")}, 422, "choose an image file"),
    ],
)
def test_try_refuses_a_bad_upload_with_the_reason(
    client: TestClient, files: dict[str, Any], status: int, reason: str
) -> None:
    page = _page(client.post("/ui/models/image-shape/try", files=files), status)
    problems = _text(_element(page, "problems"))
    assert problems.startswith("file:")
    assert reason in problems


def test_try_names_each_invalid_field_and_keeps_the_input(client: TestClient) -> None:
    form = {"a": "-1", "b": "many", "c": "3", "x0": "10"}
    page = _page(client.post("/ui/models/gd-quadratic/try", data=form), 422)
    problems = _text(_element(page, "problems"))
    assert "b: enter a number" in problems
    # Values are read first; the schema's own checks run once every value could be read.
    form["b"] = "-8"
    page = _page(client.post("/ui/models/gd-quadratic/try", data=form), 422)
    assert "a: Input should be greater than 0" in _text(_element(page, "problems"))
    assert 'name="a" type="number" step="any" value="-1"' in page


def test_try_an_unknown_title_suggests_close_ones(client: TestClient) -> None:
    page = _page(
        client.post(
            "/ui/models/movie-recommender/try", data={"title": "Toy Story Forever Again", "k": "3"}
        ),
        404,
    )
    assert "Toy Story (1995)" in _text(_element(page, "suggestions"))


def test_try_needs_the_api_token_where_one_is_set(ui_home: Path) -> None:
    with _client(ui_home, api_token="api-secret") as guarded:
        page = _page(guarded.get("/ui/models/echo"))
        assert 'name="_api_token"' in page
        assert _page(guarded.post("/ui/models/echo/try", data={"value": "1"}), 401)
        wrong = {"value": "1", "_api_token": "guess"}
        assert "invalid API token" in _page(guarded.post("/ui/models/echo/try", data=wrong), 403)
        right = {"value": "1", "_api_token": "api-secret"}
        assert _answer_json(_page(guarded.post("/ui/models/echo/try", data=right)))["version"] == 2


# ----------------------------------------------------------------- admin


def test_alias_move_is_refused_without_an_admin_token_configured(client: TestClient) -> None:
    assert 'id="admin"' not in _page(client.get("/ui/models/echo"))
    move = {"alias": "production", "version": "1", "admin_token": ADMIN_TOKEN}
    page = _page(client.post("/ui/models/echo/aliases", data=move), 403)
    assert "PRACTICA_ADMIN_TOKEN" in page
    assert client.get("/v1/models/echo").json()["aliases"]["production"] == 2


def test_alias_move_needs_the_right_admin_token(admin_client: TestClient) -> None:
    assert 'id="admin"' in _page(admin_client.get("/ui/models/echo"))
    move = {"alias": "production", "version": "1"}
    _page(admin_client.post("/ui/models/echo/aliases", data=move), 401)
    _page(admin_client.post("/ui/models/echo/aliases", data={**move, "admin_token": "x"}), 403)
    assert admin_client.get("/v1/models/echo").json()["aliases"]["production"] == 2


def test_alias_move_with_the_token_swaps_what_serves(admin_client: TestClient) -> None:
    move = {"alias": "production", "version": "1", "admin_token": ADMIN_TOKEN}
    page = _page(admin_client.post("/ui/models/echo/aliases", data=move))
    assert _text(_element(page, "notice")) == "production now points at version 1"
    assert _text(_element(page, "aliases")) == "production → v1"
    served = admin_client.post("/v1/models/echo/predict", json={"instances": [{"value": 1}]})
    assert served.json()["version"] == 1
    # The header works as well as the form field.
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    moved = admin_client.post(
        "/ui/models/echo/aliases", data={"alias": "staging", "version": "2"}, headers=bearer
    )
    _page(moved)
    assert admin_client.get("/v1/models/echo").json()["aliases"]["staging"] == 2


def test_alias_move_to_a_missing_version_is_a_404(admin_client: TestClient) -> None:
    move = {"alias": "production", "version": "9", "admin_token": ADMIN_TOKEN}
    page = _page(admin_client.post("/ui/models/echo/aliases", data=move), 404)
    assert "no version 9" in _text(_element(page, "error-message"))


# ----------------------------------------------------------------- escaping and 404s


@pytest.mark.parametrize(
    ("method", "path", "shown"),
    [
        ("GET", f"/ui/models/{HOSTILE_NAME}", HOSTILE_NAME),
        ("POST", f"/ui/models/{HOSTILE_NAME}/try", HOSTILE_NAME),
        ("POST", f"/ui/models/{HOSTILE_NAME}/aliases", HOSTILE_NAME),
        ("GET", f"/ui/models/{HOSTILE}", "no such page"),  # two segments: no model route
    ],
)
def test_a_hostile_model_name_is_a_404_shown_as_text(
    client: TestClient, method: str, path: str, shown: str
) -> None:
    page = _page(client.request(method, path), 404)
    assert "<img" not in page
    assert "<script>" not in page
    assert shown in _text(_element(page, "error-message"))


def test_a_hostile_alias_is_refused_and_shown_as_text(admin_client: TestClient) -> None:
    move = {"alias": HOSTILE, "version": "1", "admin_token": ADMIN_TOKEN}
    page = _page(admin_client.post("/ui/models/echo/aliases", data=move), 422)
    assert HOSTILE not in page
    assert "invalid alias" in _text(_element(page, "error-message"))


def test_a_hostile_query_and_form_input_are_shown_as_text(client: TestClient) -> None:
    page = _page(client.get(f"/ui/models/echo?version={HOSTILE}"), 422)
    assert HOSTILE not in page
    title = f'"></textarea>{HOSTILE}'
    page = _page(client.post("/ui/models/movie-recommender/try", data={"title": title}), 404)
    assert HOSTILE not in page
    assert 'value="&#34;&gt;&lt;/textarea&gt;&lt;script&gt;' in page
    pixels = {"value": f"</textarea>{HOSTILE}"}
    assert HOSTILE not in _page(client.post("/ui/models/echo/try", data=pixels), 422)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/ui/models/no-such-model", 404),
        ("/ui/models/echo?version=99", 404),
        ("/ui/models/echo?version=0", 422),
        ("/ui/models/echo?version=99999999999999999999999", 422),
    ],
)
def test_unknown_models_and_versions_are_error_pages(
    client: TestClient, url: str, status: int
) -> None:
    page = _page(client.get(url), status)
    assert _text(_element(page, "error-message"))


def test_try_on_a_report_only_analysis_is_a_404(client: TestClient) -> None:
    page = _page(client.post("/ui/models/netflix-eda/try", data={}), 404)
    assert "report-only" in _text(_element(page, "error-message"))


def test_a_model_never_trained_says_how_to_train_it(client: TestClient) -> None:
    page = _page(client.get("/ui"))
    row = re.search(r'<tr data-model="xor-net">(.*?)</tr>', page, re.DOTALL)
    assert row
    assert "not trained" in _text(row.group(1))
    page = _page(client.get("/ui/models/xor-net"))
    assert "practica train xor-net" in _text(page)
    assert "data-try" not in page
    tried = _page(client.post("/ui/models/xor-net/try", data={"a": "1", "b": "0"}), 404)
    assert "practica train xor-net" in _text(_element(tried, "failure"))


def test_try_refuses_a_version_that_is_not_a_number(client: TestClient) -> None:
    page = _page(client.post("/ui/models/echo/try", data={"value": "1", "_version": "v2"}), 422)
    assert "_version: choose a version from the list" in _text(_element(page, "problems"))
