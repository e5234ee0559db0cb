"""The ``ordersync`` command as an operator meets it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

SECRET = "super-secret-value-123"
KEY = "2ex8S47ZShiSbrCMsuJ0jwdm8bnUm4PKc2w7fyz96N4="


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LAZADA_", "ORDERSYNC_"))}
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


class TestConfiguration:
    def test_missing_values_are_named(self, tmp_path: Path) -> None:
        result = _run(["serve"], {}, tmp_path)
        assert result.returncode == 2
        for name in ("LAZADA_APP_KEY", "LAZADA_APP_SECRET", "ORDERSYNC_ENCRYPTION_KEYS"):
            assert f"{name}: is required" in result.stderr
        # Scoped keys come from `ordersync api-keys`: bootstrap tokens are optional.
        assert "ORDERSYNC_API_TOKENS" not in result.stderr

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({"LAZADA_API_BASE": "ftp://nope"}, "LAZADA_API_BASE: Value error, must be an http"),
            ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL: Value error, must be a postgresql"),
            ({"ORDERSYNC_API_TOKENS": "short"}, "ORDERSYNC_API_TOKENS: Value error"),
            ({"ORDERSYNC_WORKER_CONCURRENCY": "lots"}, "ORDERSYNC_WORKER_CONCURRENCY"),
            ({"ORDERSYNC_WORKER_PRIORITY": "urgent"}, "ORDERSYNC_WORKER_PRIORITY"),
            (
                {"ORDERSYNC_ENCRYPTION_KEYS": f"{KEY},{SECRET}"},
                "ORDERSYNC_ENCRYPTION_KEYS: Value error, key 2 is not a Fernet key",
            ),
            ({"ORDERSYNC_ENCRYPTION_KEYS": " , "}, "ORDERSYNC_ENCRYPTION_KEYS: Value error"),
        ],
    )
    def test_malformed_values_are_refused_without_echo(
        self, tmp_path: Path, env: dict[str, str], message: str
    ) -> None:
        base = {
            "LAZADA_APP_KEY": "key",
            "LAZADA_APP_SECRET": SECRET,
            "ORDERSYNC_API_TOKENS": SECRET,
            "ORDERSYNC_ENCRYPTION_KEYS": KEY,
        }
        result = _run(["worker"], {**base, **env}, tmp_path)
        assert result.returncode == 2
        assert message in result.stderr
        assert SECRET not in result.stderr + result.stdout

    def test_help_lists_the_commands(self, tmp_path: Path) -> None:
        result = _run(["--help"], {}, tmp_path)
        assert result.returncode == 0
        for command in ("serve", "worker", "migrate", "sandbox", "api-keys", "secrets"):
            assert command in result.stdout

    def test_generate_key_prints_a_usable_key(self, tmp_path: Path) -> None:
        result = _run(["secrets", "generate-key"], {}, tmp_path)
        assert result.returncode == 0
        key = result.stdout.strip()
        assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
