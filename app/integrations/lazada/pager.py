"""Paging GetOrders by update time past its offset cap, without missing an order.

GetOrders (lazada.md §3.1) pages with ``offset``/``limit`` and refuses offsets above 4500. We ask
for ``sort_by=updated_at&sort_direction=ASC`` and, when the next offset would pass the cap, roll
the window forward: ``update_after`` becomes the last seen ``updated_at`` and the offset starts
again at 0. The bound is inclusive, so the orders sharing that second are read again and skipped
here (they are remembered by id and update time).

Offsets are positions, and positions move: an order updated while we page leaves its place for
the end of the list, and every order after its old place moves up one. A page that started right
after the last order we took would then silently skip one. So each page after the first starts
one order early, on the last order already taken; if that order is not where we left it, the
page is dropped and the window restarts at that order's ``updated_at``, where nothing can have
been skipped. The price is one order a page (99 new orders for 100 read).

Inside one second there is nothing to restart from: there we page on by offset, and more orders
in one second than the cap can reach is an error (``WindowStuck``) rather than a silent gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.integrations.lazada.schemas import LazadaOrder

Key = tuple[str, datetime]


class WindowStuck(Exception):
    """More orders share one ``updated_at`` second than GetOrders' offset cap lets us read."""


class WindowPager:
    """Decides each GetOrders request of a pull: ``start`` (``update_after``) and ``offset``.

    Feed it every page with ``accept``; it returns the orders not seen before and moves on,
    until ``done``.
    """

    def __init__(self, start: datetime, *, limit: int, max_offset: int) -> None:
        if limit < 2 or max_offset < limit - 1:
            raise ValueError("limit must be >= 2 and max_offset >= limit - 1")
        self.start = start.replace(microsecond=0)
        self.limit = limit
        self.max_offset = max_offset
        self.offset = 0
        self.done = False
        self.rolls = 0  # windows started after the first: at the cap, or after a shift
        self.shifts = 0  # pages dropped because the list moved under us
        self._last: Key | None = None  # the last order taken
        self._newest: datetime | None = None
        self._at_newest: set[Key] = set()  # orders taken at ``_newest``

    def _key(self, order: LazadaOrder) -> Key:
        return (order.order_id, order.updated_at or self.start)

    def accept(
        self, orders: Sequence[LazadaOrder], count_total: int | None = None
    ) -> list[LazadaOrder]:
        """Take the answer to (``start``, ``offset``); return the orders new to this pull."""
        if self.done:
            raise RuntimeError("the pull is over")
        if self.offset > 0 and self._last is not None:
            first = self._key(orders[0]) if orders else None
            if first != self._last and self._last[1] > self.start:
                self.shifts += 1
                self._roll(self._last[1])
                return []
        fresh: list[LazadaOrder] = []
        for order in orders:
            key = self._key(order)
            if key in self._at_newest:
                continue
            if self._newest is None or key[1] > self._newest:
                self._newest = key[1]
                self._at_newest = set()
            self._at_newest.add(key)
            fresh.append(order)
        if orders:
            self._last = self._key(orders[-1])
        read_to = self.offset + len(orders)
        if len(orders) < self.limit or (count_total is not None and read_to >= count_total):
            self.done = True
            return fresh
        next_offset = self.offset + self.limit - 1
        if next_offset <= self.max_offset:
            self.offset = next_offset
            return fresh
        assert self._last is not None
        if self._last[1] <= self.start:
            raise WindowStuck(
                f"more than {self.max_offset + self.limit} orders were updated at "
                f"{self.start.isoformat()}: GetOrders cannot page past them"
            )
        self._roll(self._last[1])
        return fresh

    def _roll(self, start: datetime) -> None:
        self.start = start
        self.offset = 0
        self.rolls += 1
        self._last = None
