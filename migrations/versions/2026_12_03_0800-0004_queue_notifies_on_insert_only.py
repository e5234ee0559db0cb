"""The queue notifies its listeners when jobs are inserted, not on every change.

PgQueuer's trigger sent a NOTIFY for every statement that touched ``pgqueuer``: the worker's own
dequeues, heartbeats and completions included. A transaction that notifies takes one lock for
the whole database at commit and keeps it through the WAL flush, so every such commit waits
for the previous one: the worker's bookkeeping queued in front of the webhook's intake commits
(bench/README.md). Workers wake on inserts (new jobs); a job that becomes due later (a retry's
delay, a stalled job) is found by the worker's short dequeue timeout, as before.

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
        "CREATE TRIGGER tg_pgqueuer_changed AFTER INSERT ON pgqueuer "
        "EXECUTE FUNCTION fn_pgqueuer_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER tg_pgqueuer_changed ON pgqueuer")
    op.execute(
        "CREATE TRIGGER tg_pgqueuer_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON pgqueuer EXECUTE FUNCTION fn_pgqueuer_changed()"
    )
