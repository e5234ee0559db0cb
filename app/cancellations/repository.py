"""SQL for cancellations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Cancellation, CancellationStatus


class CancellationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> CancellationRepository:
        return cls(session)

    async def claim(self, values: dict[str, Any]) -> tuple[Cancellation, bool]:
        """Insert the intent, or find the one recorded under the same Idempotency-Key.
        Returns the row and whether it is new."""
        inserted = (
            await self.session.scalars(
                insert(Cancellation)
                .values(id=uuid.uuid4(), **values)
                .on_conflict_do_nothing(index_elements=["account_id", "idempotency_key"])
                .returning(Cancellation)
            )
        ).one_or_none()
        if inserted is not None:
            return inserted, True
        existing = (
            await self.session.scalars(
                select(Cancellation).where(
                    Cancellation.account_id == values["account_id"],
                    Cancellation.idempotency_key == values["idempotency_key"],
                )
            )
        ).one()
        return existing, False

    async def get(self, cancellation_id: uuid.UUID) -> Cancellation | None:
        return await self.session.get(Cancellation, cancellation_id, populate_existing=True)

    async def list_for_order(
        self, account_id: uuid.UUID, external_order_id: str
    ) -> Sequence[Cancellation]:
        statement = (
            select(Cancellation)
            .where(
                Cancellation.account_id == account_id,
                Cancellation.external_order_id == external_order_id,
            )
            .order_by(Cancellation.created_at.desc())
        )
        return (await self.session.scalars(statement)).all()

    async def append_step(self, cancellation_id: uuid.UUID, step: dict[str, Any]) -> None:
        await self.session.execute(
            text(
                "UPDATE cancellations SET steps = steps || CAST(:step AS jsonb), "
                "updated_at = now() WHERE id = :id"
            ),
            {"id": cancellation_id, "step": orjson.dumps([step]).decode()},
        )

    async def merge_details(self, cancellation_id: uuid.UUID, details: dict[str, Any]) -> None:
        await self.session.execute(
            text(
                "UPDATE cancellations SET details = details || CAST(:details AS jsonb), "
                "updated_at = now() WHERE id = :id"
            ),
            {"id": cancellation_id, "details": orjson.dumps(details).decode()},
        )

    async def count_cancel_call(self, cancellation_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Cancellation)
            .where(Cancellation.id == cancellation_id)
            .values(cancel_calls=Cancellation.cancel_calls + 1)
        )

    async def finish(self, cancellation_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            update(Cancellation).where(Cancellation.id == cancellation_id).values(**values)
        )

    async def stale_pending(self, *, older_than: datetime, limit: int) -> Sequence[uuid.UUID]:
        statement = (
            select(Cancellation.id)
            .where(
                Cancellation.status == CancellationStatus.pending.value,
                Cancellation.updated_at < older_than,
            )
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()
