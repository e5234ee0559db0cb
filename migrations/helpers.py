"""Helpers shared by migration scripts."""

from __future__ import annotations

from pathlib import Path

from alembic import op
from sqlalchemy.util import await_only

SQL_DIR = Path(__file__).parent / "sql"


def execute_sql_file(name: str) -> None:
    """Run a multi-statement SQL script inside the migration's transaction.

    asyncpg prepares statements one at a time, so scripts (with ``$$`` function bodies) go
    through its simple-query path on the migration's own connection.
    """
    raw = op.get_bind().connection.driver_connection
    assert raw is not None
    await_only(raw.execute((SQL_DIR / name).read_text()))
