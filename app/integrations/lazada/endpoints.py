"""``POST /webhooks/lazada``: verify on the raw bytes, store durably, answer 200 at once.

Lazada counts only HTTP 200 as delivered and must see it within 500 ms, so all real work is
left to the worker; this handler verifies and parses the push, then waits until the intake's
group commit has stored it (see ``intake.py``).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from app.exceptions import AppError, BadRequest, PayloadTooLarge, Unauthorized, error_responses
from app.fast_routes import RawRequest
from app.integrations.lazada.push import MAX_FIELD, InvalidPush, parse_push
from app.integrations.lazada.signing import verify_push_signature
from app.metrics import PUSHES

router = APIRouter(tags=["webhooks"])


class InvalidSignature(Unauthorized):
    code = "invalid_signature"
    title = "Push signature does not match"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        # Lazada signs with a bare header, no scheme, so there is no challenge to offer.
        super().__init__(detail, headers={}, **kwargs)


class MissingSignature(InvalidSignature):
    code = "missing_signature"
    title = "Push has no Authorization header"


class PushTooLarge(PayloadTooLarge):
    code = "push_too_large"
    title = "Push body is too large"


class MalformedPush(BadRequest):
    code = "invalid_push"
    title = "Body is not a Lazada push"


class MalformedJson(MalformedPush):
    code = "malformed_json"
    title = "Body is not valid JSON"


class WebhookAck(BaseModel):
    status: str = Field(
        examples=["accepted"],
        description="`accepted`, `duplicate`, or `spooled` (the database is unavailable: the "
        "push is kept on local disk and moved into the inbox when it is back).",
    )
    event_id: int | None = Field(default=None, description="The inbox id (absent for duplicates).")
    state: str | None = Field(
        default=None, examples=["pending"], description="pending, ignored or unroutable."
    )


class LazadaPushBody(BaseModel):
    """A Lazada push, as Lazada sends it. The signature is checked on the raw bytes, which are
    stored as they are; the fields used are checked one by one, and others are kept."""

    seller_id: str = Field(
        max_length=MAX_FIELD,
        description='The seller it is about (`"null"` on token alerts: then in `data`).',
    )
    message_type: int = Field(
        description="0 trade order and 10 reverse order (the order is synced), 8 token expiring "
        "(the token is refreshed); other types are stored and ignored."
    )
    data: dict[str, Any] = Field(
        description="Per message type. 0: `order_status`, `trade_order_id`, "
        "`trade_order_line_id`, `status_update_time` (s), `buyer_id`. 10: `reverse_status`, "
        "`trade_order_id`, `reverse_order_id`, `reverse_order_line_id`, `status_update_time`. "
        "8: `app_key`, `auth_expiry_time`, `seller_id`."
    )
    timestamp: int | None = Field(default=None, description="When Lazada pushed it.")
    site: str | None = Field(
        default=None,
        max_length=MAX_FIELD,
        description="`lazada_` + country: sg my vn th ph id.",
    )


PUSH_EXAMPLE = {
    "seller_id": "200549968600",
    "message_type": 0,
    "data": {
        "order_status": "pending",
        "trade_order_id": "446156718969495",
        "trade_order_line_id": "446156719069495",
        "status_update_time": 1701074452,
        "buyer_id": "200054169495",
    },
    "timestamp": 1701074463,
    "site": "lazada_vn",
}

# Documents the signature as the security of the route; the check itself is in ``_receive``
# (the route is answered by ``lazada_webhook_fast`` before FastAPI resolves dependencies).
_signature = APIKeyHeader(
    name="Authorization",
    scheme_name="LazadaPushSignature",
    description="Lazada's push signature: the hex HMAC-SHA256 (either case) of the app key "
    "followed by the raw body, keyed with the app secret, with no scheme (e.g. "
    "`Authorization: 34f7b258df045d4ed9341850ca85b866f34828fd7d51862f11137216294a894c`).",
    auto_error=False,
)


@router.post(
    "/webhooks/lazada",
    response_model=WebhookAck,
    summary="Receive a Lazada push",
    description=(
        "Lazada's push endpoint. The `Authorization` header must be the hex HMAC-SHA256 of "
        "app key + raw body, keyed with the app secret (`missing_signature` without it, "
        "`invalid_signature` when it does not match). Every accepted push is stored before "
        "the 200 is sent; duplicates are acknowledged without new work."
    ),
    dependencies=[Security(_signature)],
    responses=error_responses(
        MalformedPush, MalformedJson, InvalidSignature, MissingSignature, PushTooLarge
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": LazadaPushBody.model_json_schema(),
                    "example": PUSH_EXAMPLE,
                }
            },
        }
    },
)
async def lazada_webhook(request: Request) -> Response:
    # ``OrderSyncApp`` answers these POSTs with ``lazada_webhook_fast`` before FastAPI routes
    # them; this route documents them, and answers the same if the shortcut is not installed.
    raw = RawRequest(request.app, request.scope, request.receive, dict(request.scope["headers"]))
    status, content = await lazada_webhook_fast(raw)
    return Response(content, status_code=status, media_type="application/json")


async def lazada_webhook_fast(request: RawRequest) -> tuple[int, bytes]:
    """``POST /webhooks/lazada`` as served: plain ASGI, before FastAPI's per-request work."""
    limit = request.app.state.settings.webhook_max_body
    body = await request.body(limit, lambda: _rejected(PushTooLarge(f"the limit is {limit} bytes")))
    return await _answer(request.app.state, body, request.header(b"authorization"))


def _rejected(exc: AppError) -> AppError:
    PUSHES.labels("lazada", f"rejected_{exc.code}").inc()
    return exc


async def _answer(state: Any, body: bytes, authorization: bytes | None) -> tuple[int, bytes]:
    try:
        ack = await _receive(state, body, authorization)
    except AppError as exc:
        raise _rejected(exc) from None
    _OUTCOMES[ack["status"]].inc()
    # Serialised here rather than through ``response_model``: this is the hottest route, and
    # the model above still documents it.
    return 200, orjson.dumps(ack)


_OUTCOMES = {
    status: PUSHES.labels("lazada", status) for status in ("accepted", "duplicate", "spooled")
}


async def _receive(state: Any, body: bytes, authorization: bytes | None) -> dict[str, Any]:
    settings = state.settings
    if not authorization:
        raise MissingSignature()
    if not verify_push_signature(
        app_key=settings.lazada_app_key,
        secret=settings.lazada_app_secret.get_secret_value(),
        body=body,
        header=authorization.decode("latin-1"),
    ):
        raise InvalidSignature()
    try:
        push = parse_push(body)
    except InvalidPush as exc:
        kind = MalformedJson if exc.code == MalformedJson.code else MalformedPush
        raise kind(str(exc)) from None
    result = await state.intake.take(push, body)
    if result is None:
        return {"status": "spooled", "event_id": None, "state": None}
    if result.duplicate:
        return {"status": "duplicate", "event_id": None, "state": None}
    return {
        "status": "accepted",
        "event_id": result.event_id,
        "state": result.state.value if result.state else None,
    }
