"""The ``ordersync`` command as an operator meets it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.config import (
    DEMO_API_TOKEN,
    DEMO_ENCRYPTION_KEY,
    DEMO_LAZADA_APP_KEY,
    DEMO_LAZADA_APP_SECRET,
    Settings,
    describe_validation_error,
)
from app.demo import DemoPorts, demo_settings

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


def _env_example() -> dict[str, str]:
    values = {}
    for line in (Path(__file__).resolve().parents[1] / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name] = value
    return values


class TestPlaceholders:
    """Published values (README, .env.example, the demo) would let anyone in."""

    BASE: ClassVar[dict[str, Any]] = {
        "lazada_app_key": "123456",
        "lazada_app_secret": SECRET,
        "api_tokens": SECRET,
        "encryption_keys": KEY,
    }

    def _refusal(self, **values: Any) -> str:
        with pytest.raises(ValidationError) as refused:
            Settings(_env_file=None, **{**self.BASE, **values})
        return describe_validation_error(refused.value)

    def test_env_example_as_is_does_not_start(self, tmp_path: Path) -> None:
        shutil.copy(Path(__file__).resolve().parents[1] / ".env.example", tmp_path / ".env")
        result = _run(["serve"], {}, tmp_path)
        assert result.returncode == 2
        for name in (
            "LAZADA_APP_KEY",
            "LAZADA_APP_SECRET",
            "ORDERSYNC_API_TOKENS",
            "ORDERSYNC_ENCRYPTION_KEYS",
        ):
            assert f"  {name}: " in result.stderr
        for value in _env_example().values():
            if value:
                assert value not in result.stderr + result.stdout

    def test_every_placeholder_of_env_example_is_refused(self) -> None:
        example = _env_example()
        fields = {
            "LAZADA_APP_KEY": "lazada_app_key",
            "LAZADA_APP_SECRET": "lazada_app_secret",
            "ORDERSYNC_API_TOKENS": "api_tokens",
        }
        for name, field in fields.items():
            message = self._refusal(**{field: example[name]})
            assert f"{name}: Value error" in message
            assert example[name] not in message

    @pytest.mark.parametrize(
        ("field", "value", "name"),
        [
            ("api_tokens", "a-long-random-token", "ORDERSYNC_API_TOKENS"),
            ("api_tokens", f"{SECRET},your-token-here", "ORDERSYNC_API_TOKENS"),
            ("api_tokens", "CHANGEME-0123456789", "ORDERSYNC_API_TOKENS"),
            ("api_tokens", DEMO_API_TOKEN, "ORDERSYNC_API_TOKENS"),
            ("lazada_app_key", "your-key", "LAZADA_APP_KEY"),
            ("lazada_app_key", DEMO_LAZADA_APP_KEY, "LAZADA_APP_KEY"),
            ("lazada_app_secret", DEMO_LAZADA_APP_SECRET, "LAZADA_APP_SECRET"),
            ("encryption_keys", DEMO_ENCRYPTION_KEY, "ORDERSYNC_ENCRYPTION_KEYS"),
            ("encryption_keys", f"{DEMO_ENCRYPTION_KEY},{KEY}", "ORDERSYNC_ENCRYPTION_KEYS"),
        ],
    )
    def test_placeholders_and_demo_values_are_refused_by_name(
        self, field: str, value: str, name: str
    ) -> None:
        message = self._refusal(**{field: value})
        assert f"{name}: Value error" in message
        for secret in value.split(","):
            assert secret not in message

    def test_short_tokens_are_refused(self) -> None:
        message = self._refusal(api_tokens=f"{SECRET},x7Gq2mZr9Lk4Tw")  # 14 characters
        assert "ORDERSYNC_API_TOKENS: Value error, token 2 is too short (at least 16" in message

    def test_the_demo_key_may_stay_after_ours_to_read_what_it_encrypted(self) -> None:
        settings = Settings(
            _env_file=None, **{**self.BASE, "encryption_keys": f"{KEY},{DEMO_ENCRYPTION_KEY}"}
        )
        assert settings.encryption_key_values == [KEY, DEMO_ENCRYPTION_KEY]

    def test_the_demo_accepts_its_own_values(self, tmp_path: Path) -> None:
        settings = demo_settings("127.0.0.1", DemoPorts(), tmp_path, None)
        assert settings.api_token_values == {DEMO_API_TOKEN}
        assert settings.encryption_key_values == [DEMO_ENCRYPTION_KEY]
        assert settings.spool_directory == tmp_path / "spool"


class TestHelp:
    def test_flags_show_no_type_and_env_names_survive(self, tmp_path: Path) -> None:
        serve = _run(["serve", "--help"], {}, tmp_path)
        assert serve.returncode == 0
        assert "--worker / --no-worker" in serve.stdout
        assert "<bool>" not in serve.stdout
        sandbox = " ".join(_run(["sandbox", "--help"], {}, tmp_path).stdout.split())
        assert "[env var: LAZADA_APP_KEY]" in sandbox
        assert "[env var: LAZADA_APP_SECRET]" in sandbox


class TestDatabaseProblems:
    """A database that cannot be used is one line naming where, and exit code 2."""

    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            (
                "postgresql://ordersync:pw-123@127.0.0.1:1/orders",
                "Cannot use the database at 127.0.0.1:1 (database 'orders', user 'ordersync'): "
                "connection refused",
            ),
            (
                "postgresql://ordersync:pw-123@no-such-host.invalid:5433/orders",
                "Cannot use the database at no-such-host.invalid:5433 (database 'orders', user "
                "'ordersync'): unknown host",
            ),
        ],
    )
    def test_unreachable(self, tmp_path: Path, url: str, expected: str) -> None:
        result = _run(["migrate"], {"DATABASE_URL": url}, tmp_path)
        assert result.returncode == 2
        assert expected in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "pw-123" not in result.stderr + result.stdout

    def test_refused_at_the_door(self, tmp_path: Path, database_url: str) -> None:
        from sqlalchemy.engine import make_url

        url = make_url(database_url).set(database="no_such_database_here")
        result = _run(["api-keys", "list"], {"DATABASE_URL": url.render_as_string(False)}, tmp_path)
        assert result.returncode == 2
        assert 'database "no_such_database_here" does not exist' in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1

    def test_no_embedded_postgres_installed(self, tmp_path: Path) -> None:
        clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        result = subprocess.run(
            # What an install without the `embedded` extra (the image) has: no pgserver.
            [
                sys.executable,
                "-c",
                "import sys; sys.modules['pgserver'] = None\nfrom app.cli import main; main()",
                "migrate",
            ],
            env=clean,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert result.stderr.strip() == (
            "DATABASE_URL is not set and the embedded Postgres is not installed: set "
            "DATABASE_URL to your Postgres, or install it with pip install "
            "'ordersync[embedded]' (python3 dev.py does)."
        )
        assert not (tmp_path / ".ordersync").exists()
