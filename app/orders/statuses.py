"""The item statuses we store and filter by: Lazada's vocabulary (lazada.md §4), the only
marketplace whose orders we store. Every list of statuses in the code is built from this one.

Lazada has no order status: each item has its own, and an order's ``item_statuses`` are its
items' distinct statuses.
"""

from __future__ import annotations

import enum


class ItemStatus(enum.StrEnum):
    unpaid = "unpaid"
    pending = "pending"
    packed = "packed"
    repacked = "repacked"
    ready_to_ship_pending = "ready_to_ship_pending"
    ready_to_ship = "ready_to_ship"
    shipping = "shipping"
    shipped = "shipped"
    delivered = "delivered"
    # Not in the order API docs; some countries use it for buyer-confirmed receipt.
    confirmed = "confirmed"
    canceled = "canceled"
    # Two "l"s: seen only in community code, accepted defensively.
    cancelled = "cancelled"
    returned = "returned"
    failed = "failed"
    failed_delivery = "failed_delivery"
    lost = "lost"
    lost_by_3pl = "lost_by_3pl"
    damaged_by_3pl = "damaged_by_3pl"
    shipped_back = "shipped_back"
    shipped_back_success = "shipped_back_success"
    shipped_back_failed = "shipped_back_failed"
    package_scrapped = "package_scrapped"


KNOWN = frozenset(ItemStatus)

# The usual forward path. Used only to break ties between two reports with the same one-second
# timestamp: the later stage wins. Statuses not on it rank after it.
FORWARD = (
    ItemStatus.unpaid,
    ItemStatus.pending,
    ItemStatus.packed,
    ItemStatus.repacked,
    ItemStatus.ready_to_ship_pending,
    ItemStatus.ready_to_ship,
    ItemStatus.shipping,
    ItemStatus.shipped,
    ItemStatus.delivered,
    ItemStatus.confirmed,
)
