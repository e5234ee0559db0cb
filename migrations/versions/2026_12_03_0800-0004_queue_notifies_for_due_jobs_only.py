"""The queue notifies its listeners when a job that can start now is inserted, and only then.

PgQueuer's trigger sent a NOTIFY for every statement that touched ``pgqueuer``: the worker's own
dequeues, heartbeats and completions included, and every insert. A transaction that notifies
takes one lock for the whole database at commit and keeps it through the WAL flush, so every
such commit waits for the previous one: the worker's bookkeeping queued in front of the
webhook's intake commits, and each intake batch woke every worker for jobs that may not start
for a second yet (ORDERSYNC_SYNC_DELAY). Workers now wake on inserts of jobs that are due;
a job due later is found by the worker, which sleeps until the next one is due (PgQueuer reads
that time before it waits), or by its short dequeue timeout, as before.

The trigger runs per row but its WHEN clause is all that runs for a deferred job; the
notifications of one transaction have the same payload, so Postgres sends one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP TRIGGER tg_pgqueuer_changed ON pgqueuer")
    op.execute(
        "CREATE TRIGGER tg_pgqueuer_changed AFTER INSERT ON pgqueuer FOR EACH ROW "
        "WHEN (NEW.execute_after <= now()) EXECUTE FUNCTION fn_pgqueuer_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER tg_pgqueuer_changed ON pgqueuer")
    op.execute(
        "CREATE TRIGGER tg_pgqueuer_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON pgqueuer EXECUTE FUNCTION fn_pgqueuer_changed()"
    )
