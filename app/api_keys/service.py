"""API keys: minted once, stored as a hash, checked on every /v1 request, revocable.

A key is ``osk_`` followed by 32 random bytes (url-safe base64). Only its SHA-256 is stored. A
fast, unsalted hash is the right tool here, unlike for passwords: the key has 256 bits of
entropy, so there is nothing to brute-force, and lookup by hash must be cheap because it runs
on every request. Looking the hash up by equality also means no secret is ever compared byte
by byte in Python, so there is no timing side channel to guard.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.api_keys.repository import ApiKeyRepository
from app.api_keys.schemas import Scope
from app.exceptions import Conflict, NotFound
from app.models import ApiKey

KEY_PREFIX = "osk_"
# What listings show: the marker and 8 characters of the secret (48 of its 256 bits).
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 8


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "No such API key"


class ApiKeyAlreadyRevoked(Conflict):
    code = "api_key_revoked"
    title = "This API key is already revoked"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(presented: str) -> bool:
    return presented.startswith(KEY_PREFIX) and len(presented) <= 128


class ApiKeyService:
    async def create(
        self, session: AsyncSession, *, name: str, scopes: Iterable[Scope]
    ) -> tuple[ApiKey, str]:
        """The stored key and the key itself, which exists nowhere else from now on."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        stored = await ApiKeyRepository.from_session(session).create(
            name=name,
            prefix=key[:SHOWN_PREFIX_LENGTH],
            key_hash=hash_key(key),
            scopes=sorted({Scope(scope).value for scope in scopes}),
        )
        return stored, key

    async def list(self, session: AsyncSession) -> Sequence[ApiKey]:
        return await ApiKeyRepository.from_session(session).list()

    async def revoke(self, session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
        repository = ApiKeyRepository.from_session(session)
        revoked = await repository.revoke(key_id)
        if revoked is not None:
            return revoked
        if await repository.get(key_id) is None:
            raise ApiKeyNotFound(f"API key {key_id} does not exist.")
        raise ApiKeyAlreadyRevoked(f"API key {key_id} was revoked already.")

    async def authenticate(self, session: AsyncSession, presented: str) -> ApiKey | None:
        """The live key ``presented`` is, or None. Nothing is cached: a revocation holds at once."""
        if not looks_like_key(presented):
            return None
        repository = ApiKeyRepository.from_session(session)
        found = await repository.get_by_hash(hash_key(presented))
        if found is None or found.revoked_at is not None:
            return None
        await repository.touch(found.id)
        return found


api_key = ApiKeyService()
