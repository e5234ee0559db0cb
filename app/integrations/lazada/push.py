"""Parsing Lazada pushes (lazada.md §2.5-2.7) into inbox rows, without trusting their shape."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from app.config import LAZADA_COUNTRIES
from app.external_events.repository import NewEvent
from app.kit.text import is_ascii_digits
from app.models import EventState

SOURCE = "lazada"

TRADE_ORDER = 0
TOKEN_EXPIRING = 8
REVERSE_ORDER = 10
SYNC_TYPES = frozenset({TRADE_ORDER, REVERSE_ORDER})
ACTIONABLE_TYPES = SYNC_TYPES | {TOKEN_EXPIRING}

MAX_FIELD = 64


class InvalidPush(ValueError):
    """The body is JSON but not a Lazada push; ``code`` is our stable problem code."""

    def __init__(self, message: str, code: str = "invalid_push") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class LazadaPush:
    message_type: int
    seller_id: str | None
    site: str | None
    country: str | None
    data: dict[str, Any]
    order_id: str | None
    line_id: str | None
    status: str | None
    status_update_time: int | None

    @property
    def dedupe_key(self) -> str:
        if self.message_type in SYNC_TYPES:
            parts = [self.order_id, self.line_id, self.status, self.status_update_time]
        else:
            canonical = orjson.dumps(self.data, option=orjson.OPT_SORT_KEYS)
            parts = [hashlib.sha256(canonical).hexdigest()]
        head = [self.site or "", self.seller_id or "", self.message_type]
        return "|".join("" if part is None else str(part) for part in head + parts)

    def to_new_event(self) -> NewEvent:
        actionable = self.message_type in ACTIONABLE_TYPES
        return NewEvent(
            source=SOURCE,
            dedupe_key=self.dedupe_key,
            message_type=self.message_type,
            seller_id=self.seller_id,
            site=self.site,
            country=self.country,
            external_order_id=self.order_id,
            external_line_id=self.line_id,
            status=self.status,
            status_update_time=self.status_update_time,
            payload={},  # the raw body is stored as is, see service.ingest_many
            state=EventState.pending if actionable else EventState.ignored,
        )


def _text(value: Any, field: str) -> str | None:
    if value is None or value == "" or value == "null":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidPush(f"{field} must be a string or an integer")
    text = str(value)
    if len(text) > MAX_FIELD or not text.isprintable():
        raise InvalidPush(f"{field} is too long or has control characters")
    return text


def _integer(value: Any, field: str, *, maximum: int = 2**63 - 1) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and is_ascii_digits(value) and len(value) < 19:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum:
        return value
    raise InvalidPush(f"{field} must be an integer from 0 to {maximum}")


def parse_push(body: bytes) -> LazadaPush:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidPush("body is not valid JSON", code="malformed_json") from None
    if not isinstance(document, dict):
        raise InvalidPush("a push is a JSON object")
    if b"\\u0000" in body:
        raise InvalidPush("NUL characters are not accepted")
    # The docs' tables say msg_type; the bodies say message_type.
    message_type = _integer(
        document.get("message_type", document.get("msg_type")), "message_type", maximum=9999
    )
    if message_type is None:
        raise InvalidPush("message_type is required")
    data = document.get("data", {})
    if not isinstance(data, dict):
        raise InvalidPush("data must be an object")
    # Token alerts (type 8) carry "seller_id": "null" at the top and the real one in data.
    seller_id = _text(document.get("seller_id"), "seller_id") or _text(
        data.get("seller_id"), "data.seller_id"
    )
    site = _text(document.get("site"), "site")
    site = site.lower().replace("-", "_") if site else None
    country = site.rsplit("_", 1)[-1] if site else None
    if country not in LAZADA_COUNTRIES:
        country = None
    order_id = line_id = status = None
    update_time = None
    if message_type in SYNC_TYPES:
        order_id = _text(data.get("trade_order_id"), "data.trade_order_id")
        if order_id is None:
            raise InvalidPush("data.trade_order_id is required for order pushes")
        status_field = "order_status" if message_type == TRADE_ORDER else "reverse_status"
        status = _text(data.get(status_field), f"data.{status_field}")
        line_field = "trade_order_line_id"
        if message_type == REVERSE_ORDER and data.get("reverse_order_line_id") is not None:
            line_field = "reverse_order_line_id"
        line_id = _text(data.get(line_field), f"data.{line_field}")
        update_time = _integer(data.get("status_update_time"), "data.status_update_time")
    return LazadaPush(
        message_type=message_type,
        seller_id=seller_id,
        site=site,
        country=country,
        data=data,
        order_id=order_id,
        line_id=line_id,
        status=status,
        status_update_time=update_time,
    )
