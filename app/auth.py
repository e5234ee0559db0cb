"""Bearer-token check for /v1 routes."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.exceptions import Unauthorized

_bearer = HTTPBearer(auto_error=False, description="One of ORDERSYNC_API_TOKENS.")


async def require_api_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send 'Authorization: Bearer <token>'.")
    presented = credentials.credentials.encode()
    # Compare against every token so the time taken does not reveal which one nearly matched.
    matched = False
    for token in request.app.state.settings.api_token_values:
        matched |= hmac.compare_digest(presented, token.encode())
    if not matched:
        raise Unauthorized("The bearer token is not valid.")
