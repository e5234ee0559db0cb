"""Who is calling /v1, and may they call this route.

``authenticate`` runs once per request (the /v1 router depends on it, so no route is ever
public by omission): an API key from ``ordersync api-keys create``, looked up by hash in its own
short transaction, or one of ``ORDERSYNC_API_TOKENS``, the bootstrap admin tokens, which hold
every scope. Each route then declares its scope with ``dependencies=[require_scope(...)]``;
that is a FastAPI ``Security`` dependency, so ``/docs`` lists the scope on the route.

401 (``unauthorized``): no key, an unknown key, a revoked key. 403 (``insufficient_scope``): a
valid key without the route's scope.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from app.api_keys.schemas import ALL_SCOPES, Scope
from app.api_keys.service import api_key as api_key_service
from app.db import transaction
from app.exceptions import Forbidden, Unauthorized

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key (`ordersync api-keys create`), or one of ORDERSYNC_API_TOKENS "
    "(every scope). The scopes each route needs are listed on it.",
)


class InsufficientScope(Forbidden):
    code = "insufficient_scope"
    title = "The API key lacks the scope this route needs"

    def __init__(self, scopes: list[str]) -> None:
        needed = " ".join(scopes)
        super().__init__(
            f"This route needs the scope {needed!r}; ask for a key that has it.",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
            extra={"required_scopes": scopes},
        )


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: uuid.UUID | None  # None: a bootstrap token
    name: str
    scopes: frozenset[str]


_BOOTSTRAP = Caller(
    key_id=None, name="bootstrap", scopes=frozenset(scope.value for scope in ALL_SCOPES)
)


def _is_bootstrap_token(request: Request, presented: str) -> bool:
    # Compare against every token so the time taken does not reveal which one nearly matched.
    matched = False
    for token in request.app.state.settings.api_token_values:
        matched |= hmac.compare_digest(presented.encode(), token.encode())
    return matched


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send 'Authorization: Bearer <API key>'.")
    presented = credentials.credentials
    if _is_bootstrap_token(request, presented):
        caller = _BOOTSTRAP
    else:
        # Its own transaction: the last-used stamp commits at once and never holds a row lock
        # for the length of the request.
        async with transaction(request.app.state.sessionmaker) as session:
            key = await api_key_service.authenticate(session, presented)
        if key is None:
            raise Unauthorized("The API key is not valid, or it has been revoked.")
        caller = Caller(key_id=key.id, name=key.name, scopes=frozenset(key.scopes))
    request.state.caller = caller
    return caller


async def _authorize(
    security_scopes: SecurityScopes, caller: Annotated[Caller, Depends(authenticate)]
) -> Caller:
    if not set(security_scopes.scopes) <= caller.scopes:
        raise InsufficientScope(security_scopes.scopes)
    return caller


def require_scope(scope: Scope) -> Any:
    """For a route's ``dependencies=``: 401 without a valid key, 403 without ``scope``."""
    return Security(_authorize, scopes=[scope.value])


# For routes that need the caller itself (e.g. to grant no more than it holds).
CallerDep = Annotated[Caller, Depends(authenticate)]
