"""``CancelRun``: what a marketplace flow uses to talk to the marketplace safely and leave a
trace of every step.

Each step commits on its own, and the count of calls to the cancel endpoint commits *before*
the call. So after a crash, or an answer lost on the way back, the next attempt knows a call
may have landed, and asks the marketplace for the order's state before calling again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from app.cancellations.repository import CancellationRepository
from app.db import transaction
from app.integrations.errors import TransientError
from app.kit.backoff import backoff_delay
from app.kit.time import utc_now
from app.models import Cancellation, MarketplaceAccount
from app.worker.context import WorkerContext

log = structlog.get_logger(__name__)

T = TypeVar("T")

READ_ATTEMPTS = 3
# A marketplace asking for a longer pause than this gets a "processing" answer and a background
# retry instead of a caller held on the line.
MAX_CALLER_WAIT = 10.0


class OutcomeUnknown(Exception):
    """The cancel call kept failing in ways that do not say whether it took effect."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Outcome:
    status: str  # succeeded or processing
    cancelled_item_ids: list[str] = field(default_factory=list)
    marketplace_code: str | None = None
    marketplace_message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class CancelRun:
    def __init__(
        self, ctx: WorkerContext, cancellation: Cancellation, account: MarketplaceAccount
    ) -> None:
        self.ctx = ctx
        self.cancellation = cancellation
        self.account = account
        self.cancel_calls = cancellation.cancel_calls
        settings = ctx.settings
        # A caller is waiting on the HTTP request: keep in-request backoff short.
        self._base_delay = min(settings.retry_base_delay, 0.5)
        self._max_delay = min(settings.retry_max_delay, 5.0)

    @property
    def order_id(self) -> str:
        return self.cancellation.external_order_id

    async def step(self, name: str, ok: bool, detail: str | None = None) -> None:
        entry = {"name": name, "at": utc_now().isoformat(), "ok": ok, "detail": detail}
        async with transaction(self.ctx.sessionmaker) as session:
            await CancellationRepository.from_session(session).append_step(
                self.cancellation.id, entry
            )

    async def remember(self, **details: Any) -> None:
        """Keep ``details`` on the cancellation now (committed), for a later attempt to find."""
        async with transaction(self.ctx.sessionmaker) as session:
            await CancellationRepository.from_session(session).merge_details(
                self.cancellation.id, details
            )
        self.cancellation.details = {**self.cancellation.details, **details}

    async def _pause(self, attempt: int, exc: TransientError) -> None:
        await asyncio.sleep(
            backoff_delay(
                attempt, base=self._base_delay, cap=self._max_delay, retry_after=exc.retry_after
            )
        )

    def _too_long(self, exc: TransientError) -> bool:
        """The marketplace asked for a wait longer than a caller should be kept waiting."""
        return exc.retry_after is not None and exc.retry_after > MAX_CALLER_WAIT

    async def read(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        """A call that changes nothing: retried on transient errors, recorded as a step."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                result = await call()
            except TransientError as exc:
                await self.step(name, False, str(exc))
                if attempt == READ_ATTEMPTS or self._too_long(exc):
                    raise
                await self._pause(attempt, exc)
                continue
            await self.step(name, True)
            return result
        raise AssertionError("unreachable")

    async def cancel_once(
        self,
        name: str,
        *,
        already_done: Callable[[], Awaitable[bool]],
        call: Callable[[], Awaitable[T]],
    ) -> T | None:
        """Call the marketplace's cancel endpoint at most once per landed request.

        Returns the call's answer, or None when the marketplace shows that an earlier call
        (one whose answer we never saw) already cancelled the order.
        """
        attempts = self.ctx.settings.cancel_call_attempts
        for attempt in range(1, attempts + 1):
            if self.cancel_calls > 0 and await self.read(f"{name}.check", already_done):
                await self.step(f"{name}.check", True, "already cancelled by an earlier call")
                return None
            async with transaction(self.ctx.sessionmaker) as session:
                await CancellationRepository.from_session(session).count_cancel_call(
                    self.cancellation.id
                )
            self.cancel_calls += 1
            try:
                result = await call()
            except TransientError as exc:
                await self.step(name, False, f"outcome unknown: {exc}")
                log.warning(
                    "cancellation.call.unknown_outcome",
                    cancellation_id=str(self.cancellation.id),
                    attempt=attempt,
                    error=str(exc),
                )
                if self._too_long(exc):
                    raise OutcomeUnknown(str(exc), retry_after=exc.retry_after) from exc
                if attempt < attempts:
                    await self._pause(attempt, exc)
                continue
            await self.step(name, True)
            return result
        raise OutcomeUnknown(f"{name}: no answer after {attempts} calls")
