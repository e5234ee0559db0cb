"""Waiting for the intake's work to be done: every pushed line's status stored, no push
pending in the inbox, no job queued; and what to print when that does not happen."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.common import say
from bench.lazada import PUSHED_STATUS, LineKey, Push

STALL_S = 10.0  # a drain with no progress and no queued job for this long is stuck

_STORED_SQL = """
SELECT o.external_order_id, i.external_item_id,
       (SELECT min(c.recorded_at) FROM order_item_status_changes c
         WHERE c.order_item_id = i.id AND c.to_status = $3) AS stored_at
FROM orders o JOIN order_items i ON i.order_id = o.id
WHERE o.account_id = ANY($1::uuid[]) AND o.external_order_id = ANY($2::text[])
"""
_INBOX_SQL = """
SELECT external_order_id, external_line_id, state FROM external_events
WHERE source = 'lazada' AND seller_id = ANY($1::text[]) AND external_order_id = ANY($2::text[])
"""
ACTIVE_JOBS_SQL = "SELECT count(*) FROM pgqueuer WHERE status IN ('queued', 'picked')"
_PENDING_SQL = """
SELECT id, external_order_id, external_line_id, received_at, attempts, last_error
FROM external_events
WHERE state = 'pending' AND seller_id = ANY($1::text[]) AND external_order_id = ANY($2::text[])
ORDER BY id LIMIT 5
"""


@dataclass
class Drained:
    stored_at: dict[LineKey, float]  # wall-clock seconds when the pushed status was stored
    inbox_states: dict[LineKey, str]
    active_jobs: int
    waited_s: float
    complete: bool


async def read_progress(
    db: Any, accounts: Mapping[str, uuid.UUID], order_ids: list[str]
) -> tuple[dict[LineKey, float], dict[LineKey, str], int]:
    stored = {
        (row[0], row[1]): row[2].timestamp()
        for row in await db.fetch(_STORED_SQL, list(accounts.values()), order_ids, PUSHED_STATUS)
        if row[2] is not None
    }
    rows = await db.fetch(_INBOX_SQL, list(accounts), order_ids)
    inbox = {(row[0], row[1]): row[2] for row in rows}
    active = int(await db.fetchval(ACTIVE_JOBS_SQL))
    return stored, inbox, active


async def show_pending(db: Any, accounts: Mapping[str, uuid.UUID], order_ids: list[str]) -> None:
    """The first inbox rows still pending, to tell a stuck push from a slow one."""
    for row in await db.fetch(_PENDING_SQL, list(accounts), order_ids):
        age = time.time() - row["received_at"].timestamp()
        say(
            f"  still pending: event {row['id']} order {row['external_order_id']} line "
            f"{row['external_line_id']}, received {age:.0f}s ago, attempts {row['attempts']}, "
            f"last error {row['last_error']!r}"
        )


async def wait_drained(
    db: Any, accounts: Mapping[str, uuid.UUID], pushes: Sequence[Push], deadline_s: float
) -> Drained:
    """Poll until every line's status is stored, no push is pending and no job is queued."""
    order_ids = sorted({push.order_id for push in pushes})
    expected = len(pushes)
    started = last_change = time.monotonic()
    next_report = started + 5.0
    last_seen: tuple[int, int, int] | None = None
    while True:
        stored, inbox, active = await read_progress(db, accounts, order_ids)
        pending = sum(1 for state in inbox.values() if state == "pending")
        now = time.monotonic()
        waited = now - started
        if len(stored) >= expected and pending == 0 and active == 0:
            return Drained(stored, inbox, active, waited, complete=True)
        if (len(stored), pending, active) != last_seen:
            last_seen, last_change = (len(stored), pending, active), now
        if active == 0 and now - last_change > STALL_S:
            say(f"nothing moved for {STALL_S:.0f}s with no job queued: stopped waiting")
            await show_pending(db, accounts, order_ids)
            return Drained(stored, inbox, active, waited, complete=False)
        if waited > deadline_s:
            say(f"gave up waiting after {deadline_s:.0f}s")
            await show_pending(db, accounts, order_ids)
            return Drained(stored, inbox, active, waited, complete=False)
        if time.monotonic() >= next_report:
            say(f"  … {len(stored)}/{expected} lines stored, {pending} pending, {active} jobs")
            next_report += 5.0
        await asyncio.sleep(0.2)


def describe_drain(drained: Drained, expected: int) -> str:
    states = Counter(drained.inbox_states.values())
    state_text = ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
    verdict = "complete" if drained.complete else "INCOMPLETE"
    return (
        f"drain {verdict} after {drained.waited_s:.1f}s: {len(drained.stored_at)}/{expected} line "
        f"statuses stored; inbox states: {state_text or 'none'}; jobs still active: "
        f"{drained.active_jobs}"
    )
