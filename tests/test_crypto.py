"""The credential column type: Fernet with a version prefix, legacy plaintext readable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from app import crypto
from tests.fixtures.database import ENCRYPTION_KEY

OLD_KEY = "lFB86EoZWkz2RYbRzYZjDG0kDmhSRcPMdwbL4RlFC3Q="


@pytest.fixture(autouse=True)
def _restore_keys() -> Iterator[None]:
    yield
    crypto.configure([ENCRYPTION_KEY])


def test_round_trip_with_a_version_prefix() -> None:
    crypto.configure([ENCRYPTION_KEY])
    stored = crypto.encrypt("tok-123")
    assert stored.startswith("fernet:")
    assert "tok-123" not in stored
    assert stored != crypto.encrypt("tok-123")  # fresh IV each time
    assert crypto.decrypt(stored) == "tok-123"
    assert crypto.is_current(stored)


def test_legacy_plaintext_is_read_as_it_is() -> None:
    assert crypto.decrypt("plain-token") == "plain-token"
    assert not crypto.is_current("plain-token")


def test_every_key_decrypts_and_the_first_encrypts() -> None:
    crypto.configure([OLD_KEY])
    under_old = crypto.encrypt("tok")
    crypto.configure([ENCRYPTION_KEY, OLD_KEY])
    assert crypto.decrypt(under_old) == "tok"
    assert not crypto.is_current(under_old)
    fresh = crypto.encrypt("tok")
    assert Fernet(ENCRYPTION_KEY.encode()).decrypt(fresh.removeprefix("fernet:").encode()) == b"tok"


def test_a_value_no_key_opens_is_refused_without_echo() -> None:
    crypto.configure([OLD_KEY])
    stored = crypto.encrypt("tok-secret")
    crypto.configure([ENCRYPTION_KEY])
    with pytest.raises(crypto.SecretUnreadable) as caught:
        crypto.decrypt(stored)
    assert stored not in str(caught.value)


def test_malformed_keys_are_refused_without_echo() -> None:
    with pytest.raises(ValueError, match="not a Fernet key") as caught:
        crypto.configure(["not-a-key-but-secret"])
    assert "not-a-key-but-secret" not in str(caught.value)
    with pytest.raises(ValueError, match="at least one"):
        crypto.configure([])
