"""Sync and async clients over httpx. Request building and response parsing are shared;
the two classes differ only in how they send."""

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from clients.errors import ConnectionFailedError, error_for
from clients.payloads import (
    AliasMoved,
    ModelDetail,
    ModelReport,
    ModelSummary,
    Prediction,
    Readiness,
)

T = TypeVar("T", bound=BaseModel)
Instance = Mapping[str, Any] | BaseModel

DEFAULT_URL = "http://127.0.0.1:8000"


class _Requests:
    """What each call sends, as (method, path, keyword arguments for httpx)."""

    def __init__(self, token: str | None, admin_token: str | None) -> None:
        self._token = token
        self._admin_token = admin_token

    def predict(
        self, name: str, instances: Sequence[Instance], version: int | None, alias: str | None
    ) -> tuple[str, str, dict[str, Any]]:
        params = {k: v for k, v in (("version", version), ("alias", alias)) if v is not None}
        body = {
            "instances": [
                i.model_dump(mode="json") if isinstance(i, BaseModel) else dict(i)
                for i in instances
            ]
        }
        return (
            "POST",
            f"/v1/models/{name}/predict",
            {"json": body, "params": params, "headers": self._auth(self._token)},
        )

    def set_alias(self, name: str, alias: str, version: int) -> tuple[str, str, dict[str, Any]]:
        return (
            "PUT",
            f"/v1/models/{name}/aliases/{alias}",
            {"json": {"version": version}, "headers": self._auth(self._admin_token)},
        )

    @staticmethod
    def pinned(version: int | None, alias: str | None) -> dict[str, Any]:
        return {
            "params": {k: v for k, v in (("version", version), ("alias", alias)) if v is not None}
        }

    @staticmethod
    def _auth(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}


def _parse(response: httpx.Response, model: type[T]) -> T:
    _raise_for_error(response)
    return model.model_validate(response.json())


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code >= 400:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise error_for(response.status_code, body)


class PracticaClient:
    """Blocking client. `transport` lets tests talk to an in-process app."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        admin_token: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport)
        self._requests = _Requests(token, admin_token)

    def __enter__(self) -> "PracticaClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ConnectionFailedError(f"cannot reach {self._http.base_url}: {error}") from error

    def is_live(self) -> bool:
        try:
            return self._send("GET", "/healthz").status_code == 200
        except ConnectionFailedError:
            return False

    def readiness(self) -> Readiness:
        response = self._send("GET", "/readyz")
        if response.status_code == 503:
            return Readiness.model_validate(response.json())
        return _parse(response, Readiness)

    def list_models(self) -> list[ModelSummary]:
        response = self._send("GET", "/v1/models")
        _raise_for_error(response)
        return [ModelSummary.model_validate(m) for m in response.json()["models"]]

    def get_model(self, name: str) -> ModelDetail:
        return _parse(self._send("GET", f"/v1/models/{name}"), ModelDetail)

    def predict(
        self,
        name: str,
        instances: Sequence[Instance],
        *,
        version: int | None = None,
        alias: str | None = None,
    ) -> Prediction:
        method, path, kwargs = self._requests.predict(name, instances, version, alias)
        return _parse(self._send(method, path, **kwargs), Prediction)

    def report(
        self, name: str, *, version: int | None = None, alias: str | None = None
    ) -> ModelReport:
        return _parse(
            self._send("GET", f"/v1/models/{name}/report", **_Requests.pinned(version, alias)),
            ModelReport,
        )

    def plot(self, name: str, plot: str, *, version: int | None = None) -> bytes:
        response = self._send(
            "GET", f"/v1/models/{name}/report/plots/{plot}", **_Requests.pinned(version, None)
        )
        _raise_for_error(response)
        return response.content

    def set_alias(self, name: str, alias: str, version: int) -> AliasMoved:
        method, path, kwargs = self._requests.set_alias(name, alias, version)
        return _parse(self._send(method, path, **kwargs), AliasMoved)


class AsyncPracticaClient:
    """The same calls for asyncio code."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        admin_token: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)
        self._requests = _Requests(token, admin_token)

    async def __aenter__(self) -> "AsyncPracticaClient":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ConnectionFailedError(f"cannot reach {self._http.base_url}: {error}") from error

    async def list_models(self) -> list[ModelSummary]:
        response = await self._send("GET", "/v1/models")
        _raise_for_error(response)
        return [ModelSummary.model_validate(m) for m in response.json()["models"]]

    async def get_model(self, name: str) -> ModelDetail:
        return _parse(await self._send("GET", f"/v1/models/{name}"), ModelDetail)

    async def predict(
        self,
        name: str,
        instances: Sequence[Instance],
        *,
        version: int | None = None,
        alias: str | None = None,
    ) -> Prediction:
        method, path, kwargs = self._requests.predict(name, instances, version, alias)
        return _parse(await self._send(method, path, **kwargs), Prediction)

    async def report(
        self, name: str, *, version: int | None = None, alias: str | None = None
    ) -> ModelReport:
        return _parse(
            await self._send(
                "GET", f"/v1/models/{name}/report", **_Requests.pinned(version, alias)
            ),
            ModelReport,
        )

    async def set_alias(self, name: str, alias: str, version: int) -> AliasMoved:
        method, path, kwargs = self._requests.set_alias(name, alias, version)
        return _parse(await self._send(method, path, **kwargs), AliasMoved)
