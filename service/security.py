"""Bearer-token checks: admin routes are denied unless a token is configured."""

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.deps import SettingsDep
from service.schemas import error_responses

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def check_token(token: str | None, expected: str, what: str) -> None:
    """Refuse a request without `token` (401) or with another one (403), timing-safely."""
    if token is None:
        raise HTTPException(
            401,
            f"missing {what} token: send `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(403, f"invalid {what} token")


async def require_admin(settings: SettingsDep, credentials: Credentials) -> None:
    # The route declares bearer security on every server, so a request without a token is
    # a 401 on every server, as that declaration promises; one with a token is refused
    # (403) where admin routes are disabled.
    if settings.admin_token is None:
        disabled = (
            "admin routes are disabled on this server: set PRACTICA_ADMIN_TOKEN to enable them"
        )
        if credentials is None:
            raise HTTPException(
                401, f"missing admin token; {disabled}", headers={"WWW-Authenticate": "Bearer"}
            )
        raise HTTPException(403, disabled)
    check_token(_token(credentials), settings.admin_token.get_secret_value(), "admin")


async def require_api_token(settings: SettingsDep, credentials: Credentials) -> None:
    if settings.api_token is not None:
        check_token(_token(credentials), settings.api_token.get_secret_value(), "API")


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return None if credentials is None else credentials.credentials


AdminOnly = Depends(require_admin)
ApiToken = Depends(require_api_token)
API_TOKEN_RESPONSES = error_responses((401, "missing API token"), (403, "wrong API token"))
"""What the inference routes may also answer when `PRACTICA_API_TOKEN` is set."""
