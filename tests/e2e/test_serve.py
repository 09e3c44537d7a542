"""`practica serve` as a real process, driven through the typed client."""

import asyncio
import subprocess
import threading
import time

import pytest

from clients import (
    AsyncPracticaClient,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PracticaClient,
    RetryPolicy,
    UnauthorizedError,
)
from tests.e2e.conftest import ADMIN_TOKEN, Server, practica_command

pytestmark = pytest.mark.e2e

PASSENGER = {"pclass": 3, "name": "Braund, Mr. Owen Harris", "sex": "male", "age": 22, "fare": 7.25}


def test_typed_client_against_a_real_server(server: Server) -> None:
    with PracticaClient(server.url) as client:
        assert client.is_live()
        assert client.readiness().status == "ready"
        names = {m.name for m in client.list_models()}
        assert {"iris-pca", "house-prices", "titanic-survival"} <= names
        prediction = client.predict("titanic-survival", [PASSENGER])
        assert prediction.version == 2
        assert isinstance(prediction.predictions[0]["survived"], bool)
        assert client.predict("titanic-survival", [PASSENGER], version=1).version == 1
        report = client.report("house-prices")
        assert "feature_importance" in report.tables  # the fitted coefficients
        assert client.plot("house-prices", report.plots[0].name).startswith(b"\x89PNG")
        detail = client.get_model("titanic-survival")
        assert [v.version for v in detail.version_details] == [1, 2]

        with pytest.raises(InvalidInputError) as invalid:
            client.predict("titanic-survival", [{**PASSENGER, "pclass": 7}])
        assert invalid.value.issues[0]["loc"] == ["body", "instances", 0, "pclass"]
        with pytest.raises(NotFoundError):
            client.predict("no-such-model", [PASSENGER])
        with pytest.raises(UnauthorizedError):
            client.set_alias("titanic-survival", "production", 1)  # no admin token sent
    with PracticaClient(server.url, admin_token="wrong") as intruder, pytest.raises(ForbiddenError):
        intruder.set_alias("titanic-survival", "production", 1)


def test_async_client(server: Server) -> None:
    async def scenario() -> list[int]:
        async with AsyncPracticaClient(server.url) as client:
            calls = [client.predict("titanic-survival", [PASSENGER]) for _ in range(20)]
            return [p.version for p in await asyncio.gather(*calls)]

    assert asyncio.run(scenario()) == [2] * 20


def test_alias_moves_under_load_drop_no_request(server: Server) -> None:
    """Requests keep flowing while production flips between v1 and v2, by API and by CLI."""
    stop = threading.Event()
    seen: set[int] = set()
    failures: list[str] = []
    counts = [0]

    def hammer() -> None:
        # Sent once each: a retried 503 would hide the very drop this test looks for.
        with PracticaClient(server.url, retry=RetryPolicy(max_attempts=1)) as client:
            while not stop.is_set():
                try:
                    seen.add(client.predict("titanic-survival", [PASSENGER] * 5).version)
                    counts[0] += 1
                except Exception as error:  # recorded: the test asserts there are none
                    failures.append(repr(error))

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        with PracticaClient(server.url, admin_token=ADMIN_TOKEN) as admin:
            for target in (1, 2, 1, 2):
                assert admin.set_alias("titanic-survival", "production", target).version == target
                time.sleep(0.4)
        # A move made outside the server (CLI → registry) arrives through the alias poll.
        subprocess.run(
            [*practica_command(), "alias", "titanic-survival", "production", "1"],
            env=server.env,
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        with PracticaClient(server.url) as client:
            while client.predict("titanic-survival", [PASSENGER]).version != 1:
                assert time.monotonic() < deadline, "the poll never picked up the CLI's move"
                time.sleep(0.1)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert failures == []
    assert seen == {1, 2}
    assert counts[0] > 20
