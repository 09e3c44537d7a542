"""Typed errors raised by the clients, one per status the API documents.

PracticaError
 ├── ConnectionFailedError        the server could not be reached
 ├── RequestTimedOutError         the server took longer than the client's timeout
 └── ApiError                     the server answered with an error status; `code` is its code
      ├── BadRequestError         400: the body cannot be parsed
      ├── UnauthorizedError       401: missing token
      ├── ForbiddenError          403: wrong token, or admin routes disabled
      ├── NotFoundError           404: unknown model, version, plot or title (`suggestions`)
      ├── PayloadTooLargeError    413
      ├── UnsupportedMediaTypeError 415
      ├── InvalidInputError       422: `issues` lists each invalid field
      └── ServerError             5xx
           └── UnavailableError   503: loading or overloaded; retried before it is raised
"""

from typing import Any


class PracticaError(Exception):
    pass


class ConnectionFailedError(PracticaError):
    pass


class RequestTimedOutError(PracticaError):
    pass


class ApiError(PracticaError):
    """An error answer: `status`, the server's stable `code`, its `detail` and whole `body`."""

    def __init__(self, status: int, code: str, detail: Any, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body


class BadRequestError(ApiError):
    pass


class UnauthorizedError(ApiError):
    pass


class ForbiddenError(ApiError):
    pass


class NotFoundError(ApiError):
    @property
    def suggestions(self) -> list[str]:
        """For an unknown movie title, the closest titles the recommender knows."""
        found = self.body.get("suggestions") if isinstance(self.body, dict) else None
        return [str(title) for title in found] if isinstance(found, list) else []


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


class UnavailableError(ServerError):
    pass


BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: InvalidInputError,
    503: UnavailableError,
}


def error_for(status: int, body: Any) -> ApiError:
    detail = body.get("detail", body) if isinstance(body, dict) else body
    code = body.get("code", "error") if isinstance(body, dict) else "error"
    cls = BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return cls(status, code, detail, body)
