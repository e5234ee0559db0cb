"""Reconcile and backfill runs as the API sees them: ask for a backfill, read the runs.

The pulling itself is marketplace work (``app.integrations.lazada.reconcile``); this module only
records the request and queues it, in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import credentials
from app.accounts.service import AccountNotFound
from app.accounts.service import account as account_service
from app.exceptions import Conflict
from app.integrations.lazada.jobs import enqueue_backfill
from app.models import SyncRun
from app.sync_runs.repository import RunKind, RunStatus, SyncRunRepository


class BackfillNotSupported(Conflict):
    code = "backfill_not_supported"
    title = "Backfill is available for Lazada accounts only"


class SyncRunService:
    async def request_backfill(
        self, session: AsyncSession, account_id: uuid.UUID, since: datetime, *, queue: bool = True
    ) -> SyncRun:
        """Record a queued backfill and queue its job (``queue=False``: the caller runs it, as
        the CLI does). An account waiting for re-authorisation keeps it queued until the seller
        authorises again. Credentials no configured key decrypts are refused at once
        (``CredentialsUnreadable``): the run could never start."""
        account = await credentials.load(session, account_id)
        if account is None:
            raise AccountNotFound(f"Account {account_id} does not exist.")
        if account.marketplace != "lazada":
            raise BackfillNotSupported(
                f"This is a {account.marketplace} account; only Lazada accounts can be backfilled."
            )
        run = await SyncRunRepository.from_session(session).create(
            account_id=account_id,
            kind=RunKind.backfill,
            status=RunStatus.queued,
            window_start=since,
        )
        if queue and not account.needs_reauth:
            await enqueue_backfill(session, run.id)
        return run

    async def list(
        self, session: AsyncSession, account_id: uuid.UUID, *, kind: RunKind | None, limit: int
    ) -> Sequence[SyncRun]:
        await account_service.get(session, account_id)  # 404 for an unknown account
        return await SyncRunRepository.from_session(session).list_for_account(
            account_id, kind=kind, limit=limit
        )


sync_run = SyncRunService()
