"""Marketplace credentials encrypted at rest.

``EncryptedText`` is the column type of every credential on ``marketplace_accounts``: values
are encrypted when bound and decrypted when loaded, so code above the ORM only ever sees
plaintext and the database (and its backups, and any SQL error that echoes parameters) only
ever sees ``fernet:<token>``.

Keys come from ``ORDERSYNC_ENCRYPTION_KEYS`` and are installed once per process by
``configure()`` (``create_app`` and ``run_worker`` do it). The first key encrypts; every key
decrypts (``MultiFernet``), so a new key is put first, ``ordersync secrets rotate`` re-encrypts
every row with it, and only then is the old key dropped from the list.

Rows written before encryption existed hold plaintext (no ``fernet:`` prefix): they are read as
they are, and the next rotation encrypts them.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

PREFIX = "fernet:"


class EncryptionNotConfigured(RuntimeError):
    """A secret had to be encrypted or decrypted before ``configure()`` ran."""


class SecretUnreadable(ValueError):
    """A stored secret does not decrypt with any configured key (the message holds no value)."""


_keys: MultiFernet | None = None
_primary: Fernet | None = None


def generate_key() -> str:
    return Fernet.generate_key().decode()


def parse_key(key: str) -> Fernet:
    """A Fernet for ``key``; ``ValueError`` (whose message never contains the key) if malformed."""
    try:
        return Fernet(key.strip().encode())
    except (ValueError, TypeError):
        raise ValueError("not a Fernet key (32 url-safe base64-encoded bytes)") from None


def configure(keys: Sequence[str]) -> None:
    """Install the process's keys: the first encrypts, all of them decrypt."""
    global _keys, _primary
    if not keys:
        raise ValueError("at least one encryption key is needed")
    fernets = [parse_key(key) for key in keys]
    _keys, _primary = MultiFernet(fernets), fernets[0]


def _configured() -> tuple[MultiFernet, Fernet]:
    if _keys is None or _primary is None:
        raise EncryptionNotConfigured("encryption keys are not configured in this process")
    return _keys, _primary


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def encrypt(plaintext: str) -> str:
    keys, _ = _configured()
    return PREFIX + keys.encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    """The plaintext of a stored value; a value without the prefix is legacy plaintext."""
    if not is_encrypted(stored):
        return stored
    keys, _ = _configured()
    try:
        return keys.decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "a stored secret does not decrypt with any key in ORDERSYNC_ENCRYPTION_KEYS"
        ) from None


def is_current(stored: str) -> bool:
    """True when ``stored`` is encrypted with the first (current) key: rotation can skip it."""
    if not is_encrypted(stored):
        return False
    _, primary = _configured()
    try:
        primary.decrypt(stored.removeprefix(PREFIX).encode())
    except InvalidToken:
        return False
    return True


class EncryptedText(TypeDecorator[str]):
    """Text that is encrypted on the way in and decrypted on the way out.

    Never filter or join on such a column: equal plaintexts have different ciphertexts.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)
