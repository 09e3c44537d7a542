"""One pure-ASGI middleware for every request: id, body cap, media type, metrics, access log.

Pure ASGI (not BaseHTTPMiddleware) so it adds microseconds, not a task per request.
"""

import json
import logging
import re
import secrets
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_body
from service.logging import request_id_var
from service.metrics import ServiceMetrics

logger = logging.getLogger("service.access")

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_JSON_ROUTES = ("/v1/",)  # bodies under these prefixes must be JSON


class _BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the cap.

    An HTTPException, so that FastAPI's body reader re-raises it instead of turning it
    into a 400, and the error table renders it as a 413.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"request body exceeds the {limit:,}-byte limit; send smaller batches"
        )


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        metrics: ServiceMetrics,
        access_log: bool = True,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        supplied = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _CLIENT_REQUEST_ID.fullmatch(supplied) else secrets.token_hex(16)
        token = request_id_var.set(request_id)
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            rejection = self._reject(scope, headers)
            if rejection is not None:
                status_code, detail, code = rejection
                await _send_json(send_with_id, status_code, error_body(detail, code))
                return
            await self.app(scope, self._capped(receive), send_with_id)
        except _BodyTooLarge:
            if not response_started:
                await _send_json(send_with_id, 413, self._too_large())
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], template, status, elapsed)
            if self.access_log or status >= 400:
                logger.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
            request_id_var.reset(token)

    def _reject(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, Any, str] | None:
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return 400, "invalid Content-Length header", "bad_request"
            if int(length) > self.max_body_bytes:
                return 413, self._too_large()["detail"], "payload_too_large"
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        if (
            has_body
            and scope["method"] in ("POST", "PUT", "PATCH")
            and scope["path"].startswith(_JSON_ROUTES)
        ):
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media_type != b"application/json":
                shown = media_type.decode("latin-1")[:100] or "none"
                return (
                    415,
                    f"unsupported media type {shown!r}: send application/json",
                    "unsupported_media_type",
                )
        return None

    def _capped(self, receive: Receive) -> Receive:
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge(self.max_body_bytes)
            return message

        return capped_receive

    def _too_large(self) -> dict[str, Any]:
        return error_body(
            f"request body exceeds the {self.max_body_bytes:,}-byte limit; send smaller batches",
            "payload_too_large",
        )


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
