"""What each client method sends and how its answer is read, shared by both clients.

A method builds a `Call` (the request plus what the retry loop must know about it); the
sync and async clients only differ in how they send it and wait between tries.
"""

import mimetypes
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from clients.errors import ConnectionFailedError, PracticaError, RequestTimedOutError, error_for
from clients.payloads import ModelSummary, Prediction, TypedPrediction

T = TypeVar("T", bound=BaseModel)
Instance = Mapping[str, Any] | BaseModel
Image = str | os.PathLike[str] | bytes
"""A path to an image file, or the file's bytes."""

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 30.0

# The first bytes of each image format the server accepts, for naming an upload's type.
_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
)


@dataclass(frozen=True)
class Call:
    """One request, and how the retry loop may treat it.

    Attributes:
        options: keyword arguments for `httpx.Client.request`.
        idempotent: sending it twice does what sending it once does.
        is_probe: a health probe reports the state now: it is sent once, never retried.
        answers: error statuses that are answers here rather than failures (a 503 from
            /readyz is the readiness report).
    """

    method: str
    path: str
    options: dict[str, Any] = field(default_factory=dict)
    idempotent: bool = True
    is_probe: bool = False
    answers: frozenset[int] = frozenset()


class Requests:
    """Builds each route's `Call`; holds the tokens."""

    def __init__(self, token: str | None, admin_token: str | None) -> None:
        self._token = token
        self._admin_token = admin_token

    def healthz(self) -> Call:
        return Call("GET", "/healthz", is_probe=True)

    def readyz(self) -> Call:
        return Call("GET", "/readyz", is_probe=True, answers=frozenset({503}))

    def metrics(self) -> Call:
        return Call("GET", "/metrics")

    def list_models(self) -> Call:
        return Call("GET", "/v1/models", self._read_options())

    def get_model(self, name: str) -> Call:
        return Call("GET", f"/v1/models/{_segment(name)}", self._read_options())

    def predict(
        self, name: str, instances: Sequence[Instance], version: int | None, alias: str | None
    ) -> Call:
        body = {
            "instances": [
                i.model_dump(mode="json") if isinstance(i, BaseModel) else dict(i)
                for i in instances
            ]
        }
        # A prediction changes nothing on the server: sending it again is safe.
        options = self._read_options(version, alias) | {"json": body}
        return Call("POST", f"/v1/models/{_segment(name)}/predict", options)

    def report(self, name: str, version: int | None, alias: str | None) -> Call:
        path = f"/v1/models/{_segment(name)}/report"
        return Call("GET", path, self._read_options(version, alias))

    def plot(self, name: str, plot: str, version: int | None, alias: str | None) -> Call:
        path = f"/v1/models/{_segment(name)}/report/plots/{_segment(plot)}"
        return Call("GET", path, self._read_options(version, alias))

    def set_alias(self, name: str, alias: str, version: int) -> Call:
        # PUT: pointing an alias at the same version twice leaves it there.
        options = {"json": {"version": version}, "headers": _auth(self._admin_token)}
        return Call("PUT", f"/v1/models/{_segment(name)}/aliases/{_segment(alias)}", options)

    def classify(self, model: str, image: Image, filename: str | None) -> Call:
        if isinstance(image, bytes):
            data, name = image, filename or "image"
        else:
            path = Path(image)
            data, name = path.read_bytes(), filename or path.name
        options = self._read_options() | {"files": {"file": (name, data, _image_type(data, name))}}
        return Call("POST", f"/classify/{_segment(model)}", options)

    def recommend(self, title: str, k: int | None, method: Literal["POST", "GET"]) -> Call:
        query: dict[str, Any] = {"title": title} if k is None else {"title": title, "k": k}
        options = self._read_options()
        options |= {"json": query} if method == "POST" else {"params": query}
        return Call(method, "/recommend", options)

    def _read_options(self, version: int | None = None, alias: str | None = None) -> dict[str, Any]:
        params = {k: v for k, v in (("version", version), ("alias", alias)) if v is not None}
        return {"params": params, "headers": _auth(self._token)}


def parse(response: httpx.Response, model: type[T]) -> T:
    return model.model_validate_json(response.content)


def parse_models(response: httpx.Response) -> list[ModelSummary]:
    return [ModelSummary.model_validate(m) for m in response.json()["models"]]


def parse_prediction(
    response: httpx.Response, as_model: type[T] | None
) -> Prediction | TypedPrediction[T]:
    if as_model is None:
        return parse(response, Prediction)
    return TypedPrediction[as_model].model_validate_json(response.content)  # type: ignore[valid-type]


def raise_for_error(response: httpx.Response) -> None:
    if response.status_code >= 400:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise error_for(response.status_code, body)


def client_error(error: httpx.TransportError, base_url: httpx.URL) -> PracticaError:
    """The client's exception for a request that got no answer."""
    if isinstance(error, httpx.TimeoutException) and not isinstance(error, httpx.ConnectTimeout):
        return RequestTimedOutError(
            f"{base_url} did not answer in time ({type(error).__name__}): raise timeout_s, "
            "or send fewer instances per call"
        )
    return ConnectionFailedError(
        f"cannot reach {base_url}: {error or type(error).__name__}; is the server running "
        "(`practica up` or `practica serve`) at that address?"
    )


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _segment(value: str) -> str:
    return quote(value, safe="")


def _image_type(data: bytes, name: str) -> str:
    for signature, media_type in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return media_type
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
