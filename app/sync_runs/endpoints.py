from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response

from app.accounts.credentials import CredentialsUnreadable
from app.accounts.service import AccountNotFound
from app.api_keys.schemas import Scope
from app.auth import require_scope
from app.db import SessionDep
from app.sync_runs.repository import RunKind
from app.sync_runs.schemas import BackfillRequest, SyncRun
from app.sync_runs.service import BackfillNotSupported
from app.sync_runs.service import sync_run as sync_run_service

router = APIRouter(prefix="/accounts/{account_id}", tags=["sync runs"])


@router.post(
    "/backfill",
    status_code=202,
    response_model=SyncRun,
    summary="Load an account's order history",
    dependencies=[require_scope(Scope.accounts_write)],
    description="Queues a pull of every order updated since `since` (GetOrders by update time, "
    "items 50 orders a call), stored like pushes are. Answers at once with the run; follow it "
    "at `GET /v1/accounts/{id}/sync-runs`.",
    responses={
        404: AccountNotFound.schema(),
        409: BackfillNotSupported.schema(),
        424: CredentialsUnreadable.schema(),
    },
)
async def request_backfill(
    account_id: uuid.UUID, data: BackfillRequest, session: SessionDep, response: Response
) -> SyncRun:
    run = await sync_run_service.request_backfill(session, account_id, data.since)
    response.headers["Location"] = f"/v1/accounts/{account_id}/sync-runs"
    return SyncRun.model_validate(run)


@router.get(
    "/sync-runs",
    response_model=list[SyncRun],
    summary="Reconcile and backfill runs, newest first",
    dependencies=[require_scope(Scope.accounts_read)],
    responses={404: AccountNotFound.schema()},
)
async def list_sync_runs(
    account_id: uuid.UUID,
    session: SessionDep,
    kind: RunKind | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[SyncRun]:
    runs = await sync_run_service.list(session, account_id, kind=kind, limit=limit)
    return [SyncRun.model_validate(run) for run in runs]
