"""`/recommend` on a smoke-trained movie recommender (the 1,000 most-rated MovieLens films)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model_registry import ModelRegistry, RegistrySettings
from service import ServiceSettings, create_app
from service.routes.recommend import RecommendResponse
from tests.fakes import EchoSpec
from training import train_and_publish
from training.models.movie_recommender import MovieRecommender


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("recommend-home")
    registry = ModelRegistry.from_settings(RegistrySettings(home=home))
    try:
        train_and_publish(MovieRecommender(), registry, profile="smoke")
    finally:
        registry.close()
    app = create_app(ServiceSettings(home=home, log_json=False), catalog=[MovieRecommender()])
    with TestClient(app) as opened:
        yield opened


def _titles(body: dict[str, object]) -> list[str]:
    recommendations = body["recommendations"]
    assert isinstance(recommendations, list)
    return [movie["title"] for movie in recommendations]


def _locations(body: dict[str, object]) -> list[list[str]]:
    detail = body["detail"]
    assert isinstance(detail, list)
    return [issue["loc"] for issue in detail]


def test_post_recommends_movies_like_the_title(client: TestClient) -> None:
    response = client.post("/recommend", json={"title": "Toy Story (1995)", "k": 5})
    assert response.status_code == 200, response.text
    body = RecommendResponse.model_validate(response.json())
    assert (body.model, body.version) == ("movie-recommender", 1)
    assert body.matched_title == "Toy Story (1995)"
    assert len(body.recommendations) == 5
    assert "Toy Story 2 (1999)" in [movie.title for movie in body.recommendations]
    scores = [movie.score for movie in body.recommendations]
    assert scores == sorted(scores, reverse=True)


def test_get_answers_what_post_answers(client: TestClient) -> None:
    by_get = client.get("/recommend", params={"title": "godfather", "k": 3})
    assert by_get.status_code == 200, by_get.text
    assert by_get.json() == client.post("/recommend", json={"title": "godfather", "k": 3}).json()
    assert by_get.json()["matched_title"] == "Godfather, The (1972)"
    assert "Godfather: Part II, The (1974)" in _titles(by_get.json())


def test_k_defaults_to_ten(client: TestClient) -> None:
    assert len(_titles(client.get("/recommend", params={"title": "the matrix"}).json())) == 10


def test_unknown_title_is_404_with_suggestions_and_no_echo(client: TestClient) -> None:
    for response in (
        client.post("/recommend", json={"title": "zzzz qqqq"}),
        client.get("/recommend", params={"title": "zzzz qqqq"}),
    ):
        assert response.status_code == 404, response.text
        body = response.json()
        assert body["code"] == "unknown_title"
        assert isinstance(body["detail"], str)
        assert body["suggestions"]
        assert all(isinstance(title, str) for title in body["suggestions"])
        assert "zzzz" not in response.text


@pytest.mark.parametrize("k", [0, 51])
def test_k_out_of_bounds_is_422_naming_k(client: TestClient, k: int) -> None:
    by_post = client.post("/recommend", json={"title": "Toy Story (1995)", "k": k})
    by_get = client.get("/recommend", params={"title": "Toy Story (1995)", "k": k})
    assert (by_post.status_code, by_get.status_code) == (422, 422)
    assert ["body", "k"] in _locations(by_post.json())
    assert ["query", "k"] in _locations(by_get.json())


def test_missing_or_blank_title_is_422_naming_title(client: TestClient) -> None:
    for response, location in (
        (client.post("/recommend", json={"k": 5}), ["body", "title"]),
        (client.post("/recommend", json={"title": "   "}), ["body", "title"]),
        (client.get("/recommend", params={"k": 5}), ["query", "title"]),
        (client.get("/recommend", params={"title": "x" * 301}), ["query", "title"]),
    ):
        assert response.status_code == 422, response.text
        assert location in _locations(response.json())


def test_unknown_fields_are_refused(client: TestClient) -> None:
    response = client.post("/recommend", json={"title": "Toy Story (1995)", "user": 1})
    assert response.status_code == 422
    assert ["body", "user"] in _locations(response.json())


def test_predict_route_answers_the_same_through_one_inference_path(client: TestClient) -> None:
    query = {"title": "toy story", "k": 4}
    predicted = client.post("/v1/models/movie-recommender/predict", json={"instances": [query]})
    assert predicted.status_code == 200, predicted.text
    [prediction] = predicted.json()["predictions"]
    recommended = client.post("/recommend", json=query).json()
    assert prediction["matched_title"] == recommended["matched_title"] == "Toy Story (1995)"
    assert prediction["recommendations"] == recommended["recommendations"]
    unknown = client.post(
        "/v1/models/movie-recommender/predict", json={"instances": [{"title": "zzzz qqqq"}]}
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_title"
    counted = client.get("/metrics").text
    for outcome in ("ok", "rejected"):
        assert (
            f'practica_predict_requests_total{{model="movie-recommender",outcome="{outcome}"}}'
            in counted
        )


def test_openapi_documents_both_methods_with_typed_bodies(client: TestClient) -> None:
    route = client.get("/openapi.json").json()["paths"]["/recommend"]
    post = route["post"]
    example = post["requestBody"]["content"]["application/json"]["examples"]["example"]["value"]
    assert client.post("/recommend", json=example).status_code == 200
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/RecommendResponse"
    )
    assert post["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/UnknownTitleResponse"
    )
    assert {p["name"] for p in route["get"]["parameters"]} == {"title", "k"}


def test_no_recommend_route_without_the_recommender(tmp_path: Path) -> None:
    app = create_app(ServiceSettings(home=tmp_path, log_json=False), catalog=[EchoSpec()])
    paths = TestClient(app).get("/openapi.json").json()["paths"]
    assert "/recommend" not in paths
