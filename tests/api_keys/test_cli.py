"""``ordersync api-keys`` as an operator runs it: a subprocess with only DATABASE_URL set."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import scalar


async def ordersync(
    *args: str, database_url: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI with a clean environment: no Lazada settings, no API tokens."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LAZADA_", "ORDERSYNC_"))}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        env={**clean, "DATABASE_URL": database_url, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def the_key(output: str) -> str:
    (key,) = [line for line in output.splitlines() if line.startswith("osk_")]
    return key


async def test_create_list_revoke(
    anonymous: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    created = await ordersync(
        "api-keys",
        "create",
        "--name",
        "erp-prod",
        "--scopes",
        "orders:read,orders:cancel",
        database_url=database_url,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    key = the_key(created.stdout)
    assert "cannot be shown again" in created.stderr
    # Only the hash is stored.
    stored = await scalar(sessionmaker, "SELECT key_hash FROM api_keys")
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    row = await scalar(sessionmaker, "SELECT api_keys::text FROM api_keys")
    assert key not in row

    headers = {"Authorization": f"Bearer {key}"}
    assert (await anonymous.get("/v1/orders", headers=headers)).status_code == 200
    assert (await anonymous.get("/v1/accounts", headers=headers)).status_code == 403

    listed = await ordersync("api-keys", "list", database_url=database_url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    header, line = listed.stdout.strip().splitlines()[-2:]
    assert header.split() == [
        "ID",
        "NAME",
        "PREFIX",
        "SCOPES",
        "CREATED",
        "LAST",
        "USED",
        "REVOKED",
    ]
    key_id = line.split()[0]
    assert line.split()[1:4] == ["erp-prod", key[:12], "orders:cancel,orders:read"]
    assert line.endswith(" -")  # not revoked; it was used, so last used is a date
    assert line.count(" UTC") == 2
    assert key not in listed.stdout

    revoked = await ordersync("api-keys", "revoke", key_id, database_url=database_url, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert f"Revoked API key {key_id} (erp-prod)" in revoked.stdout
    assert (await anonymous.get("/v1/orders", headers=headers)).status_code == 401
    listed = await ordersync("api-keys", "list", database_url=database_url, cwd=tmp_path)
    assert listed.stdout.strip().splitlines()[-1].count(" UTC") == 3

    again = await ordersync("api-keys", "revoke", key_id, database_url=database_url, cwd=tmp_path)
    assert again.returncode == 2
    assert "revoked already" in again.stderr


async def test_refusals(anonymous: httpx.AsyncClient, database_url: str, tmp_path: Path) -> None:
    unknown_scope = await ordersync(
        "api-keys",
        "create",
        "--name",
        "x",
        "--scopes",
        "orders:read,orders:write",
        database_url=database_url,
        cwd=tmp_path,
    )
    assert unknown_scope.returncode == 2
    assert "orders:write" in unknown_scope.stderr
    assert "events:replay" in unknown_scope.stderr  # the valid ones are listed
    unknown_key = await ordersync(
        "api-keys",
        "revoke",
        "00000000-0000-0000-0000-000000000000",
        database_url=database_url,
        cwd=tmp_path,
    )
    assert unknown_key.returncode == 2
    assert "does not exist" in unknown_key.stderr
    empty = await ordersync("api-keys", "list", database_url=database_url, cwd=tmp_path)
    assert empty.returncode == 0
    assert "No API keys yet" in empty.stdout
