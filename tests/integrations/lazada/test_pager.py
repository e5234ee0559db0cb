"""``WindowPager``: which GetOrders page to ask for next. Pure logic, so plain lists stand in for
GetOrders answers here; the same logic against the sandbox is in test_reconcile.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.integrations.lazada.pager import WindowPager, WindowStuck
from app.integrations.lazada.schemas import LazadaOrder

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _orders(count: int) -> list[LazadaOrder]:
    return [
        LazadaOrder(order_id=str(1000 + n), updated_at=T0 + timedelta(seconds=n))
        for n in range(count)
    ]


def _answer(
    orders: list[LazadaOrder], start: datetime, offset: int, limit: int
) -> list[LazadaOrder]:
    """GetOrders over ``orders``: update_after inclusive, updated_at ascending, then id."""
    matching = sorted(
        (o for o in orders if o.updated_at is not None and o.updated_at >= start),
        key=lambda o: (o.updated_at, o.order_id),
    )
    return matching[offset : offset + limit]


def _drain(
    pager: WindowPager, orders: list[LazadaOrder]
) -> tuple[list[str], list[tuple[datetime, int]]]:
    taken: list[str] = []
    requests: list[tuple[datetime, int]] = []
    while not pager.done:
        requests.append((pager.start, pager.offset))
        page = _answer(orders, pager.start, pager.offset, pager.limit)
        taken += [o.order_id for o in pager.accept(page)]
    return taken, requests


def test_pages_overlap_by_one_and_roll_at_the_cap() -> None:
    orders = _orders(500)
    pager = WindowPager(T0, limit=50, max_offset=120)
    taken, requests = _drain(pager, orders)
    assert taken == [o.order_id for o in orders]  # each once, in order
    assert max(offset for _, offset in requests) <= 120
    assert [offset for _, offset in requests[:4]] == [0, 49, 98, 0]  # 147 > 120: roll
    assert requests[3][0] == orders[147].updated_at  # the last order read starts the window
    assert pager.rolls >= 3


def test_orders_sharing_the_boundary_second_are_not_taken_twice() -> None:
    orders = [
        LazadaOrder(order_id=str(5000 + n), updated_at=T0 + timedelta(seconds=n // 7))
        for n in range(300)
    ]
    pager = WindowPager(T0, limit=20, max_offset=40)
    taken, _ = _drain(pager, orders)
    assert sorted(taken) == sorted(o.order_id for o in orders)
    assert len(taken) == len(set(taken))


def test_a_shifted_list_restarts_the_window_instead_of_skipping() -> None:
    orders = _orders(30)
    pager = WindowPager(T0, limit=10, max_offset=1000)
    first = pager.accept(_answer(orders, pager.start, pager.offset, pager.limit))
    assert [o.order_id for o in first] == [o.order_id for o in orders[:10]]
    # Order 0 is updated (it leaves for the end): everything after it moves up one place.
    moved = orders.pop(0)
    orders.append(moved.model_copy(update={"updated_at": T0 + timedelta(hours=1)}))
    assert pager.offset == 9
    assert pager.accept(_answer(orders, pager.start, pager.offset, pager.limit)) == []
    assert (pager.start, pager.offset, pager.shifts) == (orders[8].updated_at, 0, 1)
    taken, _ = _drain(pager, orders)
    assert taken == [o.order_id for o in orders[9:]]  # nothing after the 10th was skipped


def test_too_many_orders_in_one_second_is_an_error_not_a_gap() -> None:
    orders = [LazadaOrder(order_id=str(n), updated_at=T0) for n in range(100)]
    pager = WindowPager(T0, limit=10, max_offset=30)
    with pytest.raises(WindowStuck, match="cannot page past"):
        _drain(pager, orders)


def test_count_total_ends_the_pull_without_an_empty_page() -> None:
    orders = _orders(20)
    pager = WindowPager(T0, limit=10, max_offset=100)
    pager.accept(_answer(orders, T0, 0, 10), count_total=20)
    pager.accept(_answer(orders, T0, 9, 10), count_total=20)
    assert pager.done is False  # 9 + 10 = 19 read: one left
    pager.accept(_answer(orders, T0, 18, 10), count_total=20)
    assert pager.done
