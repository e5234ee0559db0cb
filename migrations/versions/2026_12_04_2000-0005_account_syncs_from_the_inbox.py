"""Syncs per account, from the inbox: an index to read an account's pending pushes oldest
first, a per-push retry time, and autovacuum settings for the tables that churn.

A push no longer queues a job per order: it queues (coalesced) one sync job per account, which
reads the account's due pushes from the inbox, oldest first (``ix_external_events_pending_
account``; those waiting for a retry by ``ix_external_events_pending_retry``), and syncs their
orders one by one or, under a backlog, in batches. A push whose
order failed transiently waits until ``retry_at`` before it is taken again (exponential
backoff per order, in the inbox rather than in the queue).

The queue and the inbox churn: every push inserts a row and updates it once, every job inserts,
updates and deletes. With the default autovacuum thresholds (20 % of the table), a backlog of a
few hundred thousand rows leaves tens of thousands of dead tuples for every scan to step over
before vacuum runs; these tables are vacuumed and analysed after a few thousand changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHURNING = ("external_events", "pgqueuer", "pgqueuer_log")
AUTOVACUUM = (
    "autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000, "
    "autovacuum_analyze_scale_factor = 0.0, autovacuum_analyze_threshold = 5000"
)
AUTOVACUUM_RESET = (
    "autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, "
    "autovacuum_analyze_scale_factor, autovacuum_analyze_threshold"
)


def upgrade() -> None:
    op.add_column(
        "external_events", sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_external_events_pending_account",
        "external_events",
        ["account_id", "received_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_external_events_pending_retry",
        "external_events",
        ["account_id", "retry_at"],
        postgresql_where=sa.text("state = 'pending' AND retry_at IS NOT NULL"),
    )
    for table in CHURNING:
        op.execute(f"ALTER TABLE {table} SET ({AUTOVACUUM})")


def downgrade() -> None:
    for table in CHURNING:
        op.execute(f"ALTER TABLE {table} RESET ({AUTOVACUUM_RESET})")
    op.drop_index("ix_external_events_pending_retry", table_name="external_events")
    op.drop_index("ix_external_events_pending_account", table_name="external_events")
    op.drop_column("external_events", "retry_at")
