"""Opaque cursors: callers pass back ``next_cursor`` and never parse it."""

from __future__ import annotations

import base64
from typing import Generic, TypeVar

import orjson
from pydantic import Field

from app.exceptions import BadRequest
from app.kit.schemas import Schema

T = TypeVar("T")


class InvalidCursor(BadRequest):
    code = "invalid_cursor"
    title = "Cursor is not valid"


def encode_cursor(values: list[str | int]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str | int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidCursor("Pass back a next_cursor value unchanged.") from None
    if not isinstance(values, list) or not all(isinstance(v, str | int) for v in values):
        raise InvalidCursor("Pass back a next_cursor value unchanged.")
    return values


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
