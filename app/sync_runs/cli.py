"""``ordersync backfill``: load an account's order history in this process, printing progress.

The same pull as ``POST /v1/accounts/{id}/backfill`` (and recorded as a run like it), without
the queue: it works with no worker running, and its output is the progress.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import typer

from app import crypto
from app.accounts.service import account as account_service
from app.config import Settings
from app.db import create_engine, create_sessionmaker, transaction
from app.integrations.http import new_http_client
from app.integrations.lazada import reconcile
from app.integrations.lazada.tokens import AccountNeedsReauth
from app.models import SyncRun
from app.sync_runs.repository import RunStatus
from app.sync_runs.service import sync_run as sync_run_service
from app.worker.context import WorkerContext

PROGRESS_EVERY_S = 1.0


async def run_backfill(
    settings: Settings, database_url: str, account_id: uuid.UUID, since: datetime
) -> SyncRun:
    """Record a backfill run and execute it here; raises ``AppError`` (unknown account, not a
    Lazada account) or ``AccountNeedsReauth`` before any call to Lazada."""
    crypto.configure(settings.encryption_key_values)
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    engine = create_engine(database_url, process_name="ordersync-backfill", pool_size=2)
    http = new_http_client(timeout=settings.http_timeout)
    try:
        ctx = WorkerContext(settings, create_sessionmaker(engine), http, engine=engine)
        async with transaction(ctx.sessionmaker) as session:
            account = await account_service.get(session, account_id)
            if account.needs_reauth:
                raise AccountNeedsReauth(f"account {account_id} needs re-authorisation")
            run = await sync_run_service.request_backfill(session, account_id, since, queue=False)
        typer.echo(
            f"Backfill run {run.id}: orders of account {account_id} updated since "
            f"{since.isoformat()}"
        )
        started = time.monotonic()
        last_print = 0.0

        def progress(done: reconcile.Progress) -> None:
            nonlocal last_print
            now = time.monotonic()
            if now - last_print >= PROGRESS_EVERY_S:
                last_print = now
                typer.echo(
                    f"  {done.orders_seen} orders so far, {done.calls_made} Lazada calls "
                    f"({now - started:.0f} s)"
                )

        finished = await reconcile.backfill(ctx, run.id, on_progress=progress)
        assert finished is not None, "the run row vanished"
        return finished
    finally:
        await http.aclose()
        await engine.dispose()


def report(run: SyncRun) -> None:
    elapsed = ""
    if run.finished_at is not None:
        elapsed = f" in {(run.finished_at - run.started_at).total_seconds():.1f} s"
    line = (
        f"Backfill run {run.id} {run.status}{elapsed}: {run.orders_seen} orders seen, "
        f"{run.orders_changed} new or changed, {run.calls_made} Lazada calls"
    )
    if run.status == RunStatus.succeeded.value:
        typer.echo(line)
    else:
        typer.secho(f"{line}\n  {run.error}", fg=typer.colors.RED, err=True)
