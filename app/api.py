"""The /v1 API: every route here needs a valid key, and declares the scope it needs."""

from fastapi import APIRouter, Depends

from app.accounts.endpoints import router as accounts_router
from app.api_keys.endpoints import router as api_keys_router
from app.auth import InsufficientScope, authenticate
from app.cancellations.endpoints import router as cancellations_router
from app.exception_handlers import InvalidValue
from app.exceptions import BadRequest, Unauthorized, UnprocessableEntity, error_responses
from app.external_events.endpoints import router as events_router
from app.orders.endpoints import router as orders_router
from app.sync_runs.endpoints import router as sync_runs_router

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(authenticate)],
    # invalid_value: a value got past validation but the database refused it (the safety net).
    responses=error_responses(
        BadRequest, Unauthorized, InsufficientScope, UnprocessableEntity, InvalidValue
    ),
)
# /v1/accounts
router.include_router(accounts_router)
# /v1/orders, /v1/accounts/{id}/orders/{order_id}
router.include_router(orders_router)
# /v1/webhook-events
router.include_router(events_router)
# /v1/accounts/{id}/orders/{order_id}/cancel-options, .../cancellations, /v1/cancellations/{id}
router.include_router(cancellations_router)
# /v1/accounts/{id}/backfill, /v1/accounts/{id}/sync-runs
router.include_router(sync_runs_router)
# /v1/api-keys
router.include_router(api_keys_router)
