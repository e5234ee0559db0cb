from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from app.accounts.credentials import CredentialsUnreadable
from app.accounts.service import AccountNotFound
from app.api_keys.schemas import Scope
from app.auth import require_scope
from app.cancellations.errors import (
    REFUSALS,
    CancellationNotFound,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InvalidOrderNumber,
    MarketplaceAuthFailed,
    MarketplaceDown,
    MarketplaceInputRejected,
    MarketplaceRefused,
    RemoteOrderNotFound,
    UnknownItems,
)
from app.cancellations.schemas import (
    MAX_ITEMS,
    Cancellation,
    CancellationCreate,
    CancelOptions,
    ItemIdsQuery,
)
from app.cancellations.service import cancellation as cancellation_service
from app.db import SessionDep
from app.exception_handlers import InvalidValue
from app.exceptions import UnprocessableEntity, error_responses
from app.orders.schemas import OrderIdPath
from app.worker.context import WorkerContext

router = APIRouter(tags=["cancellations"])

IDEMPOTENCY_KEY_MAX = 255  # cancellations.idempotency_key is a varchar(255)


def _ctx(request: Request) -> WorkerContext:
    ctx: WorkerContext = request.app.state.ctx
    return ctx


@router.get(
    "/accounts/{account_id}/orders/{order_id}/cancel-options",
    response_model=CancelOptions,
    summary="What the marketplace would allow, asked fresh",
    dependencies=[require_scope(Scope.orders_read)],
    description="Reads the order from the marketplace (Lazada: GetOrderItems and "
    "OrderCancelValidate) and says whether it can be cancelled now, with which reasons, and "
    "which other items a cancellation would take with it. Changes nothing.",
    responses=error_responses(
        AccountNotFound,
        RemoteOrderNotFound,
        MarketplaceRefused,
        UnprocessableEntity,
        InvalidValue,
        UnknownItems,
        InvalidOrderNumber,
        MarketplaceInputRejected,
        MarketplaceAuthFailed,
        CredentialsUnreadable,
        MarketplaceDown,
    ),
)
async def cancel_options(
    request: Request,
    account_id: uuid.UUID,
    order_id: OrderIdPath,
    item_ids: Annotated[
        ItemIdsQuery | None,
        Query(
            description=f"Items to ask about (repeat, or comma-separate; at most {MAX_ITEMS}). "
            "Default: all.",
        ),
    ] = None,
) -> CancelOptions:
    ids = list(dict.fromkeys(item_ids or [])) or None
    return await cancellation_service.options(_ctx(request), account_id, order_id, ids)


@router.post(
    "/accounts/{account_id}/orders/{order_id}/cancellations",
    response_model=Cancellation,
    status_code=201,
    summary="Cancel an order, or some of its items",
    dependencies=[require_scope(Scope.orders_cancel)],
    description=(
        "Runs the marketplace's own cancel flow. Send an `Idempotency-Key`: the same key with "
        "the same body returns the first result (`Idempotent-Replayed: true`) without calling "
        "the marketplace again; with another body it is refused (422). `201` succeeded, `202` "
        "accepted but not final yet (`status: processing`, e.g. Newegg SBN orders); refusals "
        "are problem+json with `cancellation_id`, `marketplace_code` and `marketplace_message`."
    ),
    responses={
        200: {"description": "An earlier result, replayed", "model": Cancellation},
        202: {"description": "Accepted; the marketplace decides later", "model": Cancellation},
        **error_responses(
            IdempotencyKeyRequired,
            AccountNotFound,
            UnprocessableEntity,
            InvalidValue,
            IdempotencyKeyReused,
            *REFUSALS.values(),
        ),
    },
    openapi_extra={
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "A unique key per logical cancel request (1-255 printable "
                "characters; a UUID does): retries with it never cancel twice.",
                "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
                "example": "5f0c6a36-4f5e-4d7e-9a51-2f1f7c9b8a10",
            }
        ]
    },
)
async def create_cancellation(
    request: Request,
    response: Response,
    account_id: uuid.UUID,
    order_id: OrderIdPath,
    data: CancellationCreate,
    idempotency_key: Annotated[
        str | None,
        # Documented by openapi_extra, as required: a missing one gets our 400, not a 422.
        Header(alias="Idempotency-Key", include_in_schema=False),
    ] = None,
) -> Cancellation:
    # isprintable() also refuses NUL and every other control character.
    if (
        not idempotency_key
        or len(idempotency_key) > IDEMPOTENCY_KEY_MAX
        or not idempotency_key.isprintable()
    ):
        raise IdempotencyKeyRequired()
    found, replayed = await cancellation_service.create(
        _ctx(request), account_id, order_id, data, idempotency_key
    )
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    elif found.status == "processing":
        response.status_code = 202
    return Cancellation.model_validate(found)


@router.get(
    "/accounts/{account_id}/orders/{order_id}/cancellations",
    response_model=list[Cancellation],
    summary="Every cancellation of an order, newest first",
    dependencies=[require_scope(Scope.orders_read)],
    responses={404: AccountNotFound.schema()},
)
async def list_cancellations(
    account_id: uuid.UUID, order_id: OrderIdPath, session: SessionDep
) -> list[Cancellation]:
    found = await cancellation_service.list_for_order(session, account_id, order_id)
    return [Cancellation.model_validate(c) for c in found]


@router.get(
    "/cancellations/{cancellation_id}",
    response_model=Cancellation,
    summary="One cancellation, whatever its outcome",
    dependencies=[require_scope(Scope.orders_read)],
    responses={404: CancellationNotFound.schema()},
)
async def get_cancellation(cancellation_id: uuid.UUID, session: SessionDep) -> Cancellation:
    return Cancellation.model_validate(await cancellation_service.get(session, cancellation_id))
