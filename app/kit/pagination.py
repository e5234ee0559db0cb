"""Opaque cursors: callers pass back ``next_cursor`` and never parse it."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Generic, TypeVar

import orjson
from pydantic import Field

from app.exceptions import BadRequest
from app.kit.schemas import Schema
from app.kit.time import in_utc

MAX_BIGINT = 2**63 - 1

T = TypeVar("T")


class InvalidCursor(BadRequest):
    code = "invalid_cursor"
    title = "Cursor is not valid"


def encode_cursor(values: list[str | int]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str, *, length: int) -> list[str | int]:
    """The ``length`` values ``encode_cursor`` put in ``cursor``, or ``InvalidCursor``. Each
    value still goes through ``cursor_id`` or ``cursor_moment``: a cursor is caller input."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise _invalid() from None
    if (
        not isinstance(values, list)
        or len(values) != length
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)
    ):
        raise _invalid()
    return values


def cursor_id(value: str | int) -> int:
    """A row id from a cursor: a positive ``bigint``."""
    if isinstance(value, int) and 0 < value <= MAX_BIGINT:
        return value
    raise _invalid()


def cursor_moment(value: str | int) -> datetime:
    """A timestamp from a cursor: ISO 8601, in ``Moment``'s range."""
    try:
        return in_utc(datetime.fromisoformat(str(value)))
    except ValueError:
        raise _invalid() from None


def _invalid() -> InvalidCursor:
    return InvalidCursor("Pass back a next_cursor value unchanged.")


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
