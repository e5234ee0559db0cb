"""All ORM models, imported here so that metadata (and Alembic) sees every table."""

from app.models.api_key import ApiKey
from app.models.base import Base
from app.models.cancellation import TERMINAL, Cancellation, CancellationStatus
from app.models.external_event import EventState, ExternalEvent
from app.models.marketplace_account import MarketplaceAccount
from app.models.order import Order
from app.models.order_item import OrderItem
from app.models.order_item_status_change import OrderItemStatusChange
from app.models.rate_limit_bucket import RateLimitBucket
from app.models.sync_run import SyncRun

__all__ = [
    "TERMINAL",
    "ApiKey",
    "Base",
    "Cancellation",
    "CancellationStatus",
    "EventState",
    "ExternalEvent",
    "MarketplaceAccount",
    "Order",
    "OrderItem",
    "OrderItemStatusChange",
    "RateLimitBucket",
    "SyncRun",
]
