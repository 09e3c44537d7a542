"""The asyncio client: the same methods as `PracticaClient`, awaited."""

import asyncio
from collections.abc import Sequence
from typing import Literal, TypeVar, overload

import httpx
from pydantic import BaseModel

from clients._requests import (
    DEFAULT_TIMEOUT_S,
    DEFAULT_URL,
    Call,
    Image,
    Instance,
    Requests,
    client_error,
    parse,
    parse_models,
    parse_prediction,
    raise_for_error,
)
from clients._retry import RetryPolicy, wait_before_resending
from clients.errors import ConnectionFailedError
from clients.payloads import (
    AliasMoved,
    ModelDetail,
    ModelReport,
    ModelSummary,
    Prediction,
    Readiness,
    Recommendations,
    TypedPrediction,
)

T = TypeVar("T", bound=BaseModel)


class AsyncPracticaClient:
    """Asyncio client for every route of a Practica server.

    Args:
        base_url: the server, e.g. `http://127.0.0.1:8000`.
        token: sent to prediction and read routes (`PRACTICA_API_TOKEN` on the server).
        admin_token: sent to admin routes (`PRACTICA_ADMIN_TOKEN`).
        timeout_s: the longest wait for connecting, sending or reading, per try.
        retry: when a 503 or a connection failure is tried again (`RetryPolicy()` by
            default; `RetryPolicy(max_attempts=1)` turns it off).
        transport: an httpx transport, e.g. `httpx.MockTransport` in tests.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        admin_token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)
        self._requests = Requests(token, admin_token)
        self._retry = retry or RetryPolicy()

    async def __aenter__(self) -> "AsyncPracticaClient":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _send(self, call: Call) -> httpx.Response:
        """Send `call`, resending it as the retry policy allows; raise for an error answer."""
        attempt = 1
        while True:
            try:
                response = await self._http.request(call.method, call.path, **call.options)
            except httpx.TransportError as error:
                delay = wait_before_resending(self._retry, call, attempt, error=error)
                if delay is None:
                    raise client_error(error, self._http.base_url) from error
            else:
                delay = wait_before_resending(self._retry, call, attempt, response=response)
                if delay is None:
                    if response.status_code not in call.answers:
                        raise_for_error(response)
                    return response
            await asyncio.sleep(delay)
            attempt += 1

    async def is_live(self) -> bool:
        """Whether the server process answers `GET /healthz` (never raises)."""
        try:
            return (await self._send(self._requests.healthz())).status_code == 200
        except ConnectionFailedError:
            return False

    async def readiness(self) -> Readiness:
        """`GET /readyz`: `status` is `ready` once every model is loaded; who serves what."""
        return parse(await self._send(self._requests.readyz()), Readiness)

    async def metrics(self) -> str:
        """`GET /metrics`: the Prometheus exposition text."""
        return (await self._send(self._requests.metrics())).text

    async def list_models(self) -> list[ModelSummary]:
        """`GET /v1/models`: every model with its versions, aliases and serving version."""
        return parse_models(await self._send(self._requests.list_models()))

    async def get_model(self, name: str) -> ModelDetail:
        """`GET /v1/models/{name}`: versions with metrics, signature and lineage."""
        return parse(await self._send(self._requests.get_model(name)), ModelDetail)

    @overload
    async def predict(
        self,
        name: str,
        instances: Sequence[Instance],
        *,
        version: int | None = ...,
        alias: str | None = ...,
        as_model: None = ...,
    ) -> Prediction: ...

    @overload
    async def predict(
        self,
        name: str,
        instances: Sequence[Instance],
        *,
        version: int | None = ...,
        alias: str | None = ...,
        as_model: type[T],
    ) -> TypedPrediction[T]: ...

    async def predict(
        self,
        name: str,
        instances: Sequence[Instance],
        *,
        version: int | None = None,
        alias: str | None = None,
        as_model: type[T] | None = None,
    ) -> Prediction | TypedPrediction[T]:
        """`POST /v1/models/{name}/predict`: one prediction per instance, in order.

        Args:
            instances: dicts or pydantic models with the model's input fields.
            version: pin a version; `alias`: serve the version an alias points at
                (default: the server's default alias, `production`).
            as_model: a pydantic class to validate each prediction into; without it
                each prediction is the JSON object the server sent.
        """
        response = await self._send(self._requests.predict(name, instances, version, alias))
        return parse_prediction(response, as_model)

    @overload
    async def classify(
        self, model: str, image: Image, *, filename: str | None = ..., as_model: None = ...
    ) -> Prediction: ...

    @overload
    async def classify(
        self, model: str, image: Image, *, filename: str | None = ..., as_model: type[T]
    ) -> TypedPrediction[T]: ...

    async def classify(
        self,
        model: str,
        image: Image,
        *,
        filename: str | None = None,
        as_model: type[T] | None = None,
    ) -> Prediction | TypedPrediction[T]:
        """`POST /classify/{model}`: upload an image (a path or the file's bytes)."""
        response = await self._send(self._requests.classify(model, image, filename))
        return parse_prediction(response, as_model)

    async def recommend(
        self, title: str, k: int | None = None, *, method: Literal["POST", "GET"] = "POST"
    ) -> Recommendations:
        """`POST /recommend` (or `GET` with `method="GET"`): movies like `title`, best first.

        An unknown title raises `NotFoundError` whose `suggestions` lists close titles.
        """
        return parse(await self._send(self._requests.recommend(title, k, method)), Recommendations)

    async def report(
        self, name: str, *, version: int | None = None, alias: str | None = None
    ) -> ModelReport:
        """`GET /v1/models/{name}/report`: metrics, tables, notes and plot links."""
        return parse(await self._send(self._requests.report(name, version, alias)), ModelReport)

    async def plot(
        self, name: str, plot: str, *, version: int | None = None, alias: str | None = None
    ) -> bytes:
        """`GET /v1/models/{name}/report/plots/{plot}`: the PNG's bytes."""
        return (await self._send(self._requests.plot(name, plot, version, alias))).content

    async def set_alias(self, name: str, alias: str, version: int) -> AliasMoved:
        """Admin `PUT /v1/models/{name}/aliases/{alias}`: point an alias at a version."""
        return parse(await self._send(self._requests.set_alias(name, alias, version)), AliasMoved)
