from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query

from app.accounts.schemas import ACCOUNT_EXAMPLES, Account, AccountCreate, TokensUpdate
from app.accounts.service import AccountExists, AccountNotFound, TokensNotSupported
from app.accounts.service import account as account_service
from app.api_keys.schemas import Scope
from app.auth import require_scope
from app.db import SessionDep

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.post(
    "",
    status_code=201,
    response_model=Account,
    summary="Connect a seller",
    dependencies=[require_scope(Scope.accounts_write)],
    responses={409: AccountExists.schema()},
)
async def create_account(
    data: Annotated[AccountCreate, Body(openapi_examples=ACCOUNT_EXAMPLES)], session: SessionDep
) -> Account:
    return Account.model_validate(await account_service.create(session, data))


@router.get(
    "",
    response_model=list[Account],
    summary="List connected sellers",
    dependencies=[require_scope(Scope.accounts_read)],
)
async def list_accounts(
    session: SessionDep,
    needs_reauth: bool | None = Query(
        default=None, description="Only accounts that need (or do not need) re-authorisation."
    ),
) -> list[Account]:
    accounts = await account_service.list(session, needs_reauth=needs_reauth)
    return [Account.model_validate(a) for a in accounts]


@router.get(
    "/{account_id}",
    response_model=Account,
    summary="Get one seller connection",
    dependencies=[require_scope(Scope.accounts_read)],
    responses={404: AccountNotFound.schema()},
)
async def get_account(account_id: uuid.UUID, session: SessionDep) -> Account:
    return Account.model_validate(await account_service.get(session, account_id))


@router.put(
    "/{account_id}/tokens",
    response_model=Account,
    summary="Store a seller's new tokens after re-authorisation",
    dependencies=[require_scope(Scope.accounts_write)],
    description="For a Lazada account whose refresh token was refused or expired, or whose "
    "stored credentials cannot be decrypted (`needs_reauth`): stores the tokens of the new "
    "authorisation, clears `needs_reauth`, and queues the work that waited for it (pending "
    "pushes, paused backfills).",
    responses={404: AccountNotFound.schema(), 409: TokensNotSupported.schema()},
)
async def put_tokens(account_id: uuid.UUID, data: TokensUpdate, session: SessionDep) -> Account:
    return Account.model_validate(await account_service.reauthorise(session, account_id, data))
