"""Rate-limit buckets shared by every process, one row per seller account (and per app).

Each process used to pace its own calls, so N workers could call a seller N times its limit,
and a "slow down" answer stopped only the process that got it. Now a process takes a token
from its bucket's row in one statement (``app/integrations/ratelimit/repository.py``) and a
throttling answer sets the row's ``held_until`` for everyone.

The table is unlogged (no WAL, no flush at commit: it is updated at every marketplace call, and
losing it in a crash only refills the buckets) and leaves half of each page free, so that the
updates stay on their page (HOT) and never touch the primary key's index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_buckets",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("refilled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_buckets")),
        prefixes=["UNLOGGED"],
        postgresql_with={"fillfactor": 50},
    )


def downgrade() -> None:
    op.drop_table("rate_limit_buckets")
