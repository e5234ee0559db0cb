"""Marketplace credentials at rest: ciphertext in Postgres, plaintext only where they are used."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.api_keys.test_cli import ordersync
from tests.fixtures.database import ENCRYPTION_KEY
from tests.fixtures.services import WorkerHarness, wait_for
from tests.helpers import scalar

SECRET_COLUMNS = ("access_token", "refresh_token", "api_key", "secret_key")
OLD_KEY = "lFB86EoZWkz2RYbRzYZjDG0kDmhSRcPMdwbL4RlFC3Q="
SELLER = "200549968600"

ACCOUNTS = [
    {
        "marketplace": "lazada",
        "seller_id": "1001",
        "country": "sg",
        "access_token": "lazada-access-token-PLAIN",
        "refresh_token": "lazada-refresh-token-PLAIN",
    },
    {
        "marketplace": "shoplazza",
        "shop_domain": "acme.myshoplaza.com",
        "access_token": "shoplazza-access-token-PLAIN",
    },
    {
        "marketplace": "newegg",
        "seller_id": "A006",
        "site": "us",
        "api_key": "newegg-api-key-PLAIN",
        "secret_key": "newegg-secret-key-PLAIN",
    },
]


async def stored(sessionmaker: async_sessionmaker[AsyncSession]) -> list[dict[str, str | None]]:
    """The credential columns exactly as Postgres holds them."""
    async with sessionmaker() as session:
        rows = await session.execute(
            text(f"SELECT {', '.join(SECRET_COLUMNS)} FROM marketplace_accounts ORDER BY seller_id")
        )
        return [dict(row._mapping) for row in rows]


def decrypted(value: str | None, key: str = ENCRYPTION_KEY) -> str:
    assert value is not None
    assert value.startswith("fernet:")
    return Fernet(key.encode()).decrypt(value.removeprefix("fernet:").encode()).decode()


async def insert_account(
    sessionmaker: async_sessionmaker[AsyncSession], *, seller_id: str, access: str, refresh: str
) -> uuid.UUID:
    """An account row written by raw SQL, as a version before encryption would have left it."""
    account_id = uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO marketplace_accounts (id, marketplace, seller_id, country, "
                "access_token, refresh_token, needs_reauth) "
                "VALUES (:id, 'lazada', :seller_id, 'vn', :access, :refresh, false)"
            ),
            {"id": account_id, "seller_id": seller_id, "access": access, "refresh": refresh},
        )
    return account_id


class TestAtRest:
    async def test_credentials_created_over_the_api_are_never_stored_in_plaintext(
        self,
        api: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        for account in ACCOUNTS:
            response = await api.post("/v1/accounts", json=account)
            assert response.status_code == 201, response.text
        plaintexts = [v for a in ACCOUNTS for k, v in a.items() if k in SECRET_COLUMNS]
        everything = await scalar(
            sessionmaker,
            "SELECT string_agg(marketplace_accounts::text, ' ') FROM marketplace_accounts",
        )
        for plaintext in plaintexts:
            assert plaintext not in everything
        decrypted_values = {
            decrypted(value)
            for row in await stored(sessionmaker)
            for value in row.values()
            if value
        }
        assert decrypted_values == set(plaintexts)
        answers = (await api.get("/v1/accounts")).text + (await api.get("/openapi.json")).text
        logged = "".join(capfd.readouterr())
        for plaintext in plaintexts:
            assert plaintext not in answers
            assert plaintext not in logged


class TestRotate:
    async def test_plaintext_rows_are_encrypted_and_still_used_by_the_api_and_the_worker(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
        database_url: str,
        tmp_path: Path,
    ) -> None:
        seller = (
            await sandbox.post("/_sandbox/sellers", json={"seller_id": SELLER, "country": "vn"})
        ).json()
        account_id = await insert_account(
            sessionmaker,
            seller_id=SELLER,
            access=seller["access_token"],
            refresh=seller["refresh_token"],
        )
        assert (await stored(sessionmaker))[0]["access_token"] == seller["access_token"]
        created = (
            await sandbox.post(
                "/_sandbox/orders", json={"seller_id": SELLER, "items": [{"sku": "A"}]}
            )
        ).json()
        order_id = created["order"]["order_id"]
        options = f"/v1/accounts/{account_id}/orders/{order_id}/cancel-options"
        # A legacy plaintext row is read as it is: the API calls Lazada with its token.
        assert (await api.get(options)).status_code == 200

        rotated = await ordersync(
            "secrets",
            "rotate",
            database_url=database_url,
            cwd=tmp_path,
            env={"ORDERSYNC_ENCRYPTION_KEYS": ENCRYPTION_KEY},
        )
        assert rotated.returncode == 0, rotated.stderr
        assert "1 of 1 accounts" in rotated.stdout
        row = (await stored(sessionmaker))[0]
        assert decrypted(row["access_token"]) == seller["access_token"]
        assert decrypted(row["refresh_token"]) == seller["refresh_token"]
        assert seller["access_token"] not in str(row)

        # The API and the worker decrypt it: the sandbox accepts only the real token.
        assert (await api.get(options)).status_code == 200
        await worker.start()

        async def synced() -> bool:
            response = await api.get(f"/v1/accounts/{account_id}/orders/{order_id}")
            return response.status_code == 200

        await wait_for(synced, what="the order synced with the decrypted token")
        again = await ordersync(
            "secrets",
            "rotate",
            database_url=database_url,
            cwd=tmp_path,
            env={"ORDERSYNC_ENCRYPTION_KEYS": ENCRYPTION_KEY},
        )
        assert "0 of 1 accounts" in again.stdout

    async def test_rows_under_an_older_key_move_to_the_first_key(
        self,
        api: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        database_url: str,
        tmp_path: Path,
    ) -> None:
        old = Fernet(OLD_KEY.encode())
        account_id = await insert_account(
            sessionmaker,
            seller_id="1",
            access="fernet:" + old.encrypt(b"old-access").decode(),
            refresh="fernet:" + old.encrypt(b"old-refresh").decode(),
        )
        await insert_account(sessionmaker, seller_id="2", access="plain-a", refresh="plain-r")
        rotated = await ordersync(
            "secrets",
            "rotate",
            database_url=database_url,
            cwd=tmp_path,
            env={"ORDERSYNC_ENCRYPTION_KEYS": f"{ENCRYPTION_KEY}, {OLD_KEY}"},
        )
        assert rotated.returncode == 0, rotated.stderr
        assert "2 of 2 accounts" in rotated.stdout
        first, second = await stored(sessionmaker)
        assert decrypted(first["access_token"]) == "old-access"
        assert decrypted(first["refresh_token"]) == "old-refresh"
        assert decrypted(second["access_token"]) == "plain-a"
        # The service, which knows only the new key, reads the account.
        assert (await api.get(f"/v1/accounts/{account_id}")).status_code == 200

    async def test_a_value_no_key_opens_stops_the_rotation_before_any_write(
        self,
        anonymous: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        database_url: str,
        tmp_path: Path,
    ) -> None:
        await insert_account(sessionmaker, seller_id="1", access="plain-a", refresh="plain-r")
        lost = "fernet:" + Fernet(OLD_KEY.encode()).encrypt(b"lost-secret").decode()
        lost_id = await insert_account(sessionmaker, seller_id="2", access=lost, refresh=lost)
        rotated = await ordersync(
            "secrets",
            "rotate",
            database_url=database_url,
            cwd=tmp_path,
            env={"ORDERSYNC_ENCRYPTION_KEYS": ENCRYPTION_KEY},
        )
        assert rotated.returncode == 2
        assert f"account {lost_id}: access_token" in rotated.stderr
        assert "Nothing was changed" in rotated.stderr
        assert lost not in rotated.stderr + rotated.stdout
        assert ENCRYPTION_KEY not in rotated.stderr + rotated.stdout
        assert (await stored(sessionmaker))[0]["access_token"] == "plain-a"

    async def test_rotate_needs_the_keys(
        self, anonymous: httpx.AsyncClient, database_url: str, tmp_path: Path
    ) -> None:
        missing = await ordersync("secrets", "rotate", database_url=database_url, cwd=tmp_path)
        assert missing.returncode == 2
        assert "ORDERSYNC_ENCRYPTION_KEYS: is required" in missing.stderr
