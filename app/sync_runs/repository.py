"""SQL for reconciliation and backfill runs (``sync_runs``) and what schedules them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import utc_now
from app.models import MarketplaceAccount, SyncRun


class RunKind(StrEnum):
    reconcile = "reconcile"
    backfill = "backfill"


class RunStatus(StrEnum):
    queued = "queued"  # a backfill waiting for the worker (or for the seller to re-authorise)
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


FINISHED = (RunStatus.succeeded.value, RunStatus.failed.value)


class SyncRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> SyncRunRepository:
        return cls(session)

    async def create(
        self, *, account_id: uuid.UUID, kind: RunKind, status: RunStatus, window_start: datetime
    ) -> SyncRun:
        run = SyncRun(
            account_id=account_id,
            kind=kind.value,
            status=status.value,
            window_start=window_start,
            window_end=None,
            orders_seen=0,
            orders_changed=0,
            calls_made=0,
            error=None,
            started_at=utc_now(),
            finished_at=None,
        )
        self.session.add(run)
        await self.session.flush()
        return run

    async def get(self, run_id: int, *, for_update: bool = False) -> SyncRun | None:
        statement = select(SyncRun).where(SyncRun.id == run_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def list_for_account(
        self, account_id: uuid.UUID, *, kind: RunKind | None, limit: int
    ) -> Sequence[SyncRun]:
        statement = (
            select(SyncRun)
            .where(SyncRun.account_id == account_id)
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(limit)
        )
        if kind is not None:
            statement = statement.where(SyncRun.kind == kind.value)
        return (await self.session.scalars(statement)).all()

    async def queued_backfills(self, account_id: uuid.UUID) -> Sequence[int]:
        statement = select(SyncRun.id).where(
            SyncRun.account_id == account_id,
            SyncRun.kind == RunKind.backfill.value,
            SyncRun.status == RunStatus.queued.value,
        )
        return (await self.session.scalars(statement)).all()

    async def start(self, run_id: int, *, window_end: datetime) -> SyncRun:
        """Mark the run running (again, after an interrupted attempt): counts start afresh."""
        run = await self.get(run_id, for_update=True)
        assert run is not None, f"sync run {run_id} vanished"
        run.status = RunStatus.running.value
        run.started_at = utc_now()
        run.window_end = window_end
        run.orders_seen = run.orders_changed = run.calls_made = 0
        run.error = None
        run.finished_at = None
        await self.session.flush()
        return run

    async def finish(
        self,
        run_id: int,
        *,
        status: RunStatus,
        error: str | None,
        orders_seen: int | None = None,
        orders_changed: int | None = None,
        calls_made: int | None = None,
    ) -> SyncRun:
        run = await self.get(run_id, for_update=True)
        assert run is not None, f"sync run {run_id} vanished"
        run.status = status.value
        run.error = error[:2000] if error else None
        run.finished_at = utc_now() if status.value in FINISHED else None
        if orders_seen is not None:
            run.orders_seen = orders_seen
        if orders_changed is not None:
            run.orders_changed = orders_changed
        if calls_made is not None:
            run.calls_made = calls_made
        await self.session.flush()
        return run

    async def update_counts(
        self, run_id: int, *, orders_seen: int, orders_changed: int, calls_made: int
    ) -> None:
        await self.session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id)
            .values(orders_seen=orders_seen, orders_changed=orders_changed, calls_made=calls_made)
        )

    async def accounts_due_for_reconcile(
        self, *, marketplace: str, last_started_before: datetime
    ) -> Sequence[uuid.UUID]:
        """Connected accounts (not waiting for re-authorisation) with no reconcile run started
        since ``last_started_before``; an account connected after it is not due yet either,
        its pushes are fresh and its history is a backfill's job."""
        recent_run = exists().where(
            SyncRun.account_id == MarketplaceAccount.id,
            SyncRun.kind == RunKind.reconcile.value,
            SyncRun.started_at >= last_started_before,
        )
        statement = (
            select(MarketplaceAccount.id)
            .where(
                MarketplaceAccount.marketplace == marketplace,
                MarketplaceAccount.needs_reauth.is_(False),
                MarketplaceAccount.created_at < last_started_before,
                ~recent_run,
            )
            .order_by(MarketplaceAccount.reconciled_through.asc().nulls_first())
        )
        return (await self.session.scalars(statement)).all()
