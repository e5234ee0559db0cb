"""Keys over the API, for callers holding ``api-keys:admin`` (the CLI does the same)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.api_keys.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated, Scope
from app.api_keys.service import ApiKeyAlreadyRevoked, ApiKeyNotFound
from app.api_keys.service import api_key as api_key_service
from app.auth import CallerDep, InsufficientScope, require_scope
from app.db import SessionDep

router = APIRouter(
    prefix="/api-keys",
    tags=["api keys"],
    dependencies=[require_scope(Scope.api_keys_admin)],
)


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create a key (its secret is in this answer only)",
    description="A key may be given only scopes its creator holds.",
)
async def create_api_key(
    data: ApiKeyCreate, caller: CallerDep, session: SessionDep
) -> ApiKeyCreated:
    missing = sorted(scope.value for scope in data.scopes if scope.value not in caller.scopes)
    if missing:
        raise InsufficientScope(missing)
    stored, key = await api_key_service.create(session, name=data.name, scopes=data.scopes)
    return ApiKeyCreated.model_validate({**ApiKey.model_validate(stored).model_dump(), "key": key})


@router.get("", response_model=list[ApiKey], summary="List keys, revoked ones included")
async def list_api_keys(session: SessionDep) -> list[ApiKey]:
    return [ApiKey.model_validate(k) for k in await api_key_service.list(session)]


@router.post(
    "/{key_id}/revoke",
    response_model=ApiKey,
    summary="Revoke a key: it stops working at once",
    responses={404: ApiKeyNotFound.schema(), 409: ApiKeyAlreadyRevoked.schema()},
)
async def revoke_api_key(key_id: uuid.UUID, session: SessionDep) -> ApiKey:
    return ApiKey.model_validate(await api_key_service.revoke(session, key_id))
