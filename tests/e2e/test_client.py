"""Every client method against `practica serve` as a real process, sync and async."""

import asyncio
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from clients import (
    AsyncPracticaClient,
    ConnectionFailedError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PracticaClient,
    RetryPolicy,
    TypedPrediction,
    UnsupportedMediaTypeError,
)
from tests.e2e.conftest import ADMIN_TOKEN, Server, free_port

pytestmark = pytest.mark.e2e

PASSENGER = {"pclass": 3, "name": "Braund, Mr. Owen Harris", "sex": "male", "age": 22, "fare": 7.25}
CAT_PHOTO = Path(__file__).parents[2] / "data" / "oxford_pets" / "cat" / "Abyssinian_1.jpg"


class Survival(BaseModel):
    """The caller's own class for a titanic-survival prediction."""

    survived: bool
    probability: float


class PetLabel(BaseModel):
    label: Literal["cat", "dog"]
    probabilities: dict[str, float]


def test_sync_client_reads_every_route(read_only_server: Server) -> None:
    with PracticaClient(read_only_server.url) as client:
        assert client.is_live()
        readiness = client.readiness()
        assert readiness.status == "ready"
        assert readiness.serving["titanic-survival"] == 2
        assert "practica_http_requests" in client.metrics()

        models = {m.name: m for m in client.list_models()}
        assert {"titanic-survival", "cat-dog", "movie-recommender"} <= models.keys()
        assert models["titanic-survival"].aliases["production"] == 2
        detail = client.get_model("titanic-survival")
        assert [v.version for v in detail.version_details] == [1, 2]

        typed = client.predict("titanic-survival", [PASSENGER] * 2, as_model=Survival)
        assert isinstance(typed, TypedPrediction)
        assert typed.version == 2
        assert all(isinstance(p, Survival) for p in typed.predictions)
        assert len(typed.predictions) == 2
        assert client.predict("titanic-survival", [PASSENGER], version=1).version == 1
        assert client.predict("titanic-survival", [PASSENGER], alias="production").version == 2

        from_path = client.classify("cat-dog", CAT_PHOTO, as_model=PetLabel)
        from_bytes = client.classify("cat-dog", CAT_PHOTO.read_bytes())
        assert from_path.predictions[0].label in {"cat", "dog"}
        assert sum(from_path.predictions[0].probabilities.values()) == pytest.approx(1, abs=1e-3)
        assert from_bytes.predictions[0] == from_path.predictions[0].model_dump()

        posted = client.recommend("the matrix", 3)
        assert len(posted.recommendations) == 3
        assert client.recommend("the matrix", 3, method="GET") == posted
        assert len(client.recommend("the matrix").recommendations) == 10  # the server's default k

        report = client.report("house-prices")
        assert report.plots
        assert client.report("titanic-survival", version=1).version == 1
        png = client.plot("house-prices", report.plots[0].name, version=report.version)
        assert png.startswith(b"\x89PNG")


def test_sync_client_raises_errors_with_the_servers_code(read_only_server: Server) -> None:
    with PracticaClient(read_only_server.url) as client:
        with pytest.raises(InvalidInputError) as invalid:
            client.predict("titanic-survival", [{**PASSENGER, "pclass": 7}])
        assert invalid.value.issues[0]["loc"] == ["body", "instances", 0, "pclass"]
        with pytest.raises(NotFoundError) as unknown_model:
            client.get_model("no-such-model")
        assert unknown_model.value.code == "model_not_found"
        with pytest.raises(NotFoundError) as unknown_title:
            client.recommend("zzzz qqqq")
        assert unknown_title.value.code == "unknown_title"
        assert unknown_title.value.suggestions
        with pytest.raises(NotFoundError):
            client.plot("house-prices", "no_such_plot")
        with pytest.raises(UnsupportedMediaTypeError) as not_an_image:
            client.classify("cat-dog", b"not an image at all", filename="photo.jpg")
        assert not_an_image.value.code == "unsupported_image"


def test_async_client_reads_every_route(read_only_server: Server) -> None:
    async def scenario() -> None:
        async with AsyncPracticaClient(read_only_server.url) as client:
            assert await client.is_live()
            assert (await client.readiness()).status == "ready"
            assert "practica_http_requests" in await client.metrics()
            models, detail, typed, pinned = await asyncio.gather(
                client.list_models(),
                client.get_model("titanic-survival"),
                client.predict("titanic-survival", [PASSENGER], as_model=Survival),
                client.predict("titanic-survival", [PASSENGER], version=1),
            )
            pet, movies, report = await asyncio.gather(
                client.classify("cat-dog", CAT_PHOTO),
                client.recommend("the matrix", 2, method="GET"),
                client.report("house-prices"),
            )
            assert "movie-recommender" in {m.name for m in models}
            assert detail.serving_version == 2
            assert typed.version == 2
            assert isinstance(typed.predictions[0], Survival)
            assert pinned.version == 1
            assert pet.predictions[0]["label"] in {"cat", "dog"}
            assert len(movies.recommendations) == 2
            png = await client.plot("house-prices", report.plots[0].name)
            assert png.startswith(b"\x89PNG")
            with pytest.raises(NotFoundError) as unknown:
                await client.get_model("no-such-model")
            assert unknown.value.code == "model_not_found"

    asyncio.run(scenario())


def test_clients_move_an_alias_with_the_admin_token(server: Server) -> None:
    with PracticaClient(server.url, admin_token=ADMIN_TOKEN) as admin:
        moved = admin.set_alias("titanic-survival", "production", 1)
        assert (moved.model, moved.alias, moved.version) == ("titanic-survival", "production", 1)
        assert admin.predict("titanic-survival", [PASSENGER]).version == 1
        assert admin.get_model("titanic-survival").aliases["production"] == 1

    async def move_back() -> int:
        async with AsyncPracticaClient(server.url, admin_token=ADMIN_TOKEN) as admin:
            await admin.set_alias("titanic-survival", "production", 2)
            return (await admin.predict("titanic-survival", [PASSENGER])).version

    assert asyncio.run(move_back()) == 2
    with PracticaClient(server.url, admin_token="wrong") as intruder:
        with pytest.raises(ForbiddenError) as refused:
            intruder.set_alias("titanic-survival", "production", 1)
        assert refused.value.status == 403
        assert intruder.predict("titanic-survival", [PASSENGER]).version == 2


def test_client_reports_an_unreachable_server() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    quick = RetryPolicy(max_attempts=2, backoff_s=0.01)
    with PracticaClient(url, retry=quick) as client:
        assert not client.is_live()
        with pytest.raises(ConnectionFailedError, match="cannot reach"):
            client.list_models()
