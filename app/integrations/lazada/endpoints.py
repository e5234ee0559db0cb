"""``POST /webhooks/lazada``: verify on the raw bytes, store durably, answer 200 at once.

Lazada counts only HTTP 200 as delivered and must see it within 500 ms, so all real work is
left to the worker; this handler verifies and parses the push, then waits until the intake's
group commit has stored it (see ``intake.py``).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from app.exceptions import AppError, BadRequest, PayloadTooLarge, Unauthorized
from app.integrations.lazada.push import InvalidPush, parse_push
from app.integrations.lazada.signing import verify_push_signature
from app.kit.text import is_ascii_digits
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


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and is_ascii_digits(declared) and int(declared) > limit:
        raise PushTooLarge(f"the limit is {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PushTooLarge(f"the limit is {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/webhooks/lazada",
    response_model=WebhookAck,
    summary="Receive a Lazada push",
    description=(
        "Lazada's push endpoint. The `Authorization` header must be the hex HMAC-SHA256 of "
        "app key + raw body, keyed with the app secret. Every accepted push is stored before "
        "the 200 is sent; duplicates are acknowledged without new work."
    ),
    responses={
        400: MalformedPush.schema(),
        401: InvalidSignature.schema(),
        413: PushTooLarge.schema(),
    },
)
async def lazada_webhook(request: Request) -> Response:
    try:
        ack = await _receive(request)
    except AppError as exc:
        PUSHES.labels("lazada", f"rejected_{exc.code}").inc()
        raise
    _OUTCOMES[ack["status"]].inc()
    # Serialised here rather than through ``response_model``: this is the hottest route, and
    # the model above still documents it.
    return Response(orjson.dumps(ack), media_type="application/json")


_OUTCOMES = {
    status: PUSHES.labels("lazada", status) for status in ("accepted", "duplicate", "spooled")
}


async def _receive(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    body = await _read_body(request, settings.webhook_max_body)
    header = request.headers.get("authorization")
    if not header:
        raise MissingSignature()
    if not verify_push_signature(
        app_key=settings.lazada_app_key,
        secret=settings.lazada_app_secret.get_secret_value(),
        body=body,
        header=header,
    ):
        raise InvalidSignature()
    try:
        push = parse_push(body)
    except InvalidPush as exc:
        kind = MalformedJson if exc.code == MalformedJson.code else MalformedPush
        raise kind(str(exc)) from None
    result = await request.app.state.intake.take(push, body)
    if result is None:
        return {"status": "spooled", "event_id": None, "state": None}
    if result.duplicate:
        return {"status": "duplicate", "event_id": None, "state": None}
    return {
        "status": "accepted",
        "event_id": result.event_id,
        "state": result.state.value if result.state else None,
    }
