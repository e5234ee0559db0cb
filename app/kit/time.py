from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator

# A day inside what ``datetime`` can hold: a moment nearer its ends overflows when it is turned
# into UTC (asyncpg does that to every ``timestamptz`` it sends) or moved by a time zone.
EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def in_utc(value: datetime) -> datetime:
    """``value`` in UTC (naive means UTC), or ``ValueError`` (a 422) when it lies outside
    ``EARLIEST``..``LATEST``, where converting it would fail as a 500."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError("must be between 0001-01-02 and 9999-12-30 (UTC)")
    return utc


# A date-time from a request: any offset (none means UTC), converted to UTC.
Moment = Annotated[datetime, AfterValidator(in_utc)]
