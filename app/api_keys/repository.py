"""SQL for ``api_keys``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiKey


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ApiKeyRepository:
        return cls(session)

    async def create(self, *, name: str, prefix: str, key_hash: str, scopes: list[str]) -> ApiKey:
        key = ApiKey(name=name, prefix=prefix, key_hash=key_hash, scopes=scopes)
        self.session.add(key)
        await self.session.flush()
        await self.session.refresh(key)
        return key

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def get_by_hash(self, key_hash: str) -> ApiKey | None:
        statement = select(ApiKey).where(ApiKey.key_hash == key_hash)
        return (await self.session.scalars(statement)).one_or_none()

    async def list(self) -> Sequence[ApiKey]:
        return (await self.session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all()

    async def revoke(self, key_id: uuid.UUID) -> ApiKey | None:
        """Revoke, or return None when there is no such key or it was revoked already."""
        statement = (
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(ApiKey)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def touch(self, key_id: uuid.UUID) -> None:
        """Record a use, at most once a minute: one write per key per minute, not per request."""
        await self.session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(
                    ApiKey.last_used_at.is_(None),
                    ApiKey.last_used_at < func.now() - literal_column("interval '1 minute'"),
                ),
            )
            .values(last_used_at=func.now())
            .execution_options(synchronize_session=False)
        )
