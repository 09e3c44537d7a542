"""The clients' retries, against scripted answers (httpx.MockTransport): no server, no waiting."""

import asyncio
import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from clients import (
    AsyncPracticaClient,
    ConnectionFailedError,
    InvalidInputError,
    NotFoundError,
    PracticaClient,
    RequestTimedOutError,
    RetryPolicy,
    UnavailableError,
)
from clients._requests import Call
from clients._retry import wait_before_resending

URL = "http://practica.test"
POLICY = RetryPolicy(max_attempts=3, backoff_s=0.5, max_backoff_s=0.8, jitter=False)
PREDICTION = {"model": "iris-pca", "version": 1, "predictions": [{"components": [0.1, 0.2]}]}
UNAVAILABLE = {"detail": "iris-pca is loading", "code": "model_not_loaded"}
INSTANCE = {"sepal_length_cm": 5.1}

Answer = httpx.Response | Exception


def scripted(answers: list[Answer], seen: list[httpx.Request]) -> Callable[..., httpx.Response]:
    """A handler that answers each request with the next item (an exception is raised)."""
    remaining: Iterator[Answer] = iter(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(remaining)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the sync client makes, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("clients._sync.time.sleep", recorded.append)
    return recorded


def client_for(answers: list[Answer], seen: list[httpx.Request]) -> PracticaClient:
    transport = httpx.MockTransport(scripted(answers, seen))
    return PracticaClient(URL, retry=POLICY, transport=transport)


def test_predict_retries_503_with_exponential_backoff(waits: list[float]) -> None:
    seen: list[httpx.Request] = []
    answers: list[Answer] = [
        httpx.Response(503, json=UNAVAILABLE),
        httpx.Response(503, json=UNAVAILABLE),
        httpx.Response(200, json=PREDICTION),
    ]
    with client_for(answers, seen) as client:
        prediction = client.predict("iris-pca", [INSTANCE])
    assert prediction.predictions == PREDICTION["predictions"]
    assert len(seen) == 3
    assert all(request.content == seen[0].content for request in seen)  # the same body resent
    assert waits == [0.5, 0.8]  # doubled, then capped by max_backoff_s


def test_retry_after_header_is_honoured_and_capped(waits: list[float]) -> None:
    seen: list[httpx.Request] = []
    answers: list[Answer] = [
        httpx.Response(503, json=UNAVAILABLE, headers={"Retry-After": "2"}),
        httpx.Response(503, json=UNAVAILABLE, headers={"Retry-After": "3600"}),
        httpx.Response(200, json=PREDICTION),
    ]
    with client_for(answers, seen) as client:
        client.predict("iris-pca", [INSTANCE])
    assert waits == [2.0, POLICY.max_retry_after_s]


def test_retry_after_as_http_date_is_read() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    assert 8 <= POLICY.delay_s(1, later) <= 10
    assert POLICY.delay_s(1, "not a date") == POLICY.backoff_s  # unreadable: the backoff


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, {"detail": "no model 'nope'", "code": "model_not_found"}, NotFoundError),
        (422, {"detail": [{"loc": ["body"], "msg": "bad", "type": "x"}], "code": "invalid_input"},
         InvalidInputError),
    ],
)  # fmt: skip
def test_client_errors_are_not_retried(
    waits: list[float], status: int, body: dict[str, object], error: type[Exception]
) -> None:
    seen: list[httpx.Request] = []
    with client_for([httpx.Response(status, json=body)], seen) as client, pytest.raises(error):
        client.predict("nope", [INSTANCE])
    assert len(seen) == 1
    assert waits == []


def test_connection_refused_is_retried(waits: list[float]) -> None:
    seen: list[httpx.Request] = []
    answers: list[Answer] = [httpx.ConnectError("refused"), httpx.Response(200, json=PREDICTION)]
    with client_for(answers, seen) as client:
        assert client.predict("iris-pca", [INSTANCE]).version == 1
    assert len(seen) == 2
    assert waits == [0.5]


def test_exhausted_attempts_raise_the_last_error_with_its_code(waits: list[float]) -> None:
    seen: list[httpx.Request] = []
    last = {"detail": "still loading", "code": "model_not_loaded_last"}
    answers: list[Answer] = [
        httpx.Response(503, json=UNAVAILABLE),
        httpx.ConnectError("refused"),
        httpx.Response(503, json=last),
    ]
    with client_for(answers, seen) as client, pytest.raises(UnavailableError) as raised:
        client.predict("iris-pca", [INSTANCE])
    assert raised.value.status == 503
    assert raised.value.code == "model_not_loaded_last"
    assert raised.value.detail == "still loading"
    assert len(seen) == POLICY.max_attempts
    assert len(waits) == POLICY.max_attempts - 1


def test_exhausted_connection_errors_raise_connection_failed(waits: list[float]) -> None:
    seen: list[httpx.Request] = []
    answers: list[Answer] = [httpx.ConnectError("refused")] * 3
    with client_for(answers, seen) as client, pytest.raises(ConnectionFailedError) as raised:
        client.list_models()
    assert "practica up" in str(raised.value)  # says what to do
    assert len(seen) == 3


def test_a_read_timeout_is_raised_at_once(waits: list[float]) -> None:
    seen: list[httpx.Request] = []
    answers: list[Answer] = [httpx.ReadTimeout("slow")]
    with client_for(answers, seen) as client, pytest.raises(RequestTimedOutError):
        client.predict("iris-pca", [INSTANCE])
    assert len(seen) == 1


def test_non_idempotent_calls_are_resent_only_when_the_server_never_saw_them() -> None:
    call = Call("POST", "/somewhere", idempotent=False)
    refused = httpx.ConnectError("refused")
    dropped = httpx.RemoteProtocolError("server disconnected")
    assert wait_before_resending(POLICY, call, 1, error=refused) == POLICY.backoff_s
    assert wait_before_resending(POLICY, call, 1, error=dropped) is None
    assert wait_before_resending(POLICY, call, 1, response=httpx.Response(503)) is None
    idempotent = Call("POST", "/somewhere")
    assert wait_before_resending(POLICY, idempotent, 1, error=dropped) == POLICY.backoff_s


def test_readiness_503_is_an_answer_not_a_retry(waits: list[float]) -> None:
    seen: list[httpx.Request] = []
    loading = {"status": "loading", "serving": {}, "unavailable": {"iris-pca": "loading"}}
    with client_for([httpx.Response(503, json=loading)], seen) as client:
        assert client.readiness().status == "loading"
    assert len(seen) == 1
    assert waits == []


def test_async_client_retries_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr("clients._async.asyncio.sleep", record)
    seen: list[httpx.Request] = []
    answers: list[Answer] = [
        httpx.Response(503, json=UNAVAILABLE, headers={"Retry-After": "1"}),
        httpx.ConnectError("refused"),
        httpx.Response(200, json=PREDICTION),
    ]

    async def scenario() -> int:
        transport = httpx.MockTransport(scripted(answers, seen))
        async with AsyncPracticaClient(URL, retry=POLICY, transport=transport) as client:
            return (await client.predict("iris-pca", [INSTANCE])).version

    assert asyncio.run(scenario()) == 1
    assert waits == [1.0, 0.8]


def test_max_attempts_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_sync_and_async_clients_offer_the_same_methods() -> None:
    def public(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and name not in {"close", "aclose"}
        }

    sync, asynchronous = public(PracticaClient), public(AsyncPracticaClient)
    assert sync.keys() == asynchronous.keys()
    assert {"predict", "classify", "recommend", "set_alias", "metrics", "plot"} <= sync.keys()
    for name, signature in sync.items():
        assert list(signature.parameters) == list(asynchronous[name].parameters), name
        assert inspect.iscoroutinefunction(getattr(AsyncPracticaClient, name)), name
