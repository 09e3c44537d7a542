"""Typed errors raised by the clients, one per status the API documents.

PracticaError
 ├── ConnectionFailedError        the server could not be reached
 └── ApiError                the server answered with an error status
      ├── UnauthorizedError       401: missing token
      ├── ForbiddenError          403: wrong token, or admin routes disabled
      ├── NotFoundError           404: unknown model, version or alias
      ├── PayloadTooLargeError    413
      ├── UnsupportedMediaTypeError 415
      ├── InvalidInputError       422: `issues` lists each invalid field
      └── ServerError        5xx
"""

from typing import Any


class PracticaError(Exception):
    pass


class ConnectionFailedError(PracticaError):
    pass


class ApiError(PracticaError):
    def __init__(self, status: int, code: str, detail: Any) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class UnauthorizedError(ApiError):
    pass


class ForbiddenError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class PayloadTooLargeError(ApiError):
    pass


class UnsupportedMediaTypeError(ApiError):
    pass


class InvalidInputError(ApiError):
    @property
    def issues(self) -> list[dict[str, Any]]:
        """Each invalid field: `loc` (its path), `msg` and `type`."""
        return self.detail if isinstance(self.detail, list) else []


class ServerError(ApiError):
    pass


BY_STATUS: dict[int, type[ApiError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: InvalidInputError,
}


def error_for(status: int, body: Any) -> ApiError:
    detail = body.get("detail", body) if isinstance(body, dict) else body
    code = body.get("code", "error") if isinstance(body, dict) else "error"
    cls = BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return cls(status, code, detail)
