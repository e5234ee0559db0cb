"""``ordersync secrets generate-key|rotate``: the keys marketplace credentials are encrypted with.

Rotating to a new key: ``generate-key``; put the new key first in ``ORDERSYNC_ENCRYPTION_KEYS``
(keep the old one after it) and restart; ``rotate``; then drop the old key and restart again.
"""

from __future__ import annotations

import typer

secrets_cli = typer.Typer(
    help="Encryption of marketplace credentials at rest (ORDERSYNC_ENCRYPTION_KEYS).",
    no_args_is_help=True,
)


@secrets_cli.command("generate-key")
def generate_key() -> None:
    """Print a new encryption key (for ORDERSYNC_ENCRYPTION_KEYS)."""
    from app.crypto import generate_key as new_key

    typer.echo(new_key())


@secrets_cli.command("rotate")
def rotate() -> None:
    """Re-encrypt every account's credentials with the first key in ORDERSYNC_ENCRYPTION_KEYS.

    Covers rows stored before encryption existed (plaintext) and rows under an older key."""
    from app import crypto
    from app.accounts.service import account as account_service
    from app.cli import _fail
    from app.config import ConfigError, load_encryption_settings
    from app.kit.cli import in_transaction

    try:
        settings = load_encryption_settings()
    except ConfigError as exc:
        raise _fail(f"{exc}\nSee README.md, 'Configuration'.") from None
    crypto.configure(settings.encryption_key_values)
    try:
        done = in_transaction(account_service.rotate_secrets)
    except crypto.SecretUnreadable as exc:
        raise _fail(f"Nothing was changed: {exc}.") from None
    typer.echo(
        f"Re-encrypted the credentials of {done.rewritten} of {done.accounts} accounts "
        "with the first key; the others were already under it."
    )
