"""``ordersync api-keys create|list|revoke``: the operator's way to manage /v1 keys.

These need only the database (no Lazada settings, no encryption keys: API keys are hashes).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer

from app.api_keys.schemas import Scope
from app.kit.cli import in_transaction
from app.models import ApiKey

api_keys_cli = typer.Typer(
    help="Scoped API keys for /v1 callers (shown once at creation; only a hash is stored).",
    no_args_is_help=True,
)


def parse_scopes(value: str) -> list[Scope]:
    names = [part.strip() for part in value.split(",") if part.strip()]
    known = {scope.value: scope for scope in Scope}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown scope(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(known)}",
            param_hint="--scopes",
        )
    return [known[name] for name in names]


@api_keys_cli.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who or what uses the key, e.g. erp-prod.")],
    scopes: Annotated[
        str,
        typer.Option(help=f"Comma-separated, from: {', '.join(s.value for s in Scope)}."),
    ],
) -> None:
    """Create a key and print it, once."""
    from app.api_keys.service import api_key as api_key_service

    if not 1 <= len(name) <= 100:
        raise typer.BadParameter("must be 1 to 100 characters", param_hint="--name")
    wanted = parse_scopes(scopes)
    stored, key = in_transaction(
        lambda session: api_key_service.create(session, name=name, scopes=wanted)
    )
    typer.echo(f"Created API key {stored.id} ({stored.name}): {', '.join(stored.scopes)}")
    typer.echo("")
    typer.echo(key)
    typer.echo("")
    typer.secho(
        "Copy it now: it cannot be shown again (only its hash is stored). "
        "Send it as 'Authorization: Bearer <key>'.",
        fg=typer.colors.YELLOW,
        err=True,
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


def render(keys: Sequence[ApiKey]) -> str:
    header = ("ID", "NAME", "PREFIX", "SCOPES", "CREATED", "LAST USED", "REVOKED")
    rows = [header] + [
        (
            str(k.id),
            k.name,
            k.prefix,
            ",".join(k.scopes),
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
        for k in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


@api_keys_cli.command("list")
def list_keys() -> None:
    """List every key, revoked ones included (never the keys themselves)."""
    from app.api_keys.service import api_key as api_key_service

    keys = in_transaction(api_key_service.list)
    typer.echo(render(keys) if keys else "No API keys yet: `ordersync api-keys create`.")


@api_keys_cli.command("revoke")
def revoke(key_id: Annotated[uuid.UUID, typer.Argument(help="The key's ID (see `list`).")]) -> None:
    """Revoke a key: the next request that sends it gets 401."""
    from app.api_keys.service import api_key as api_key_service

    revoked = in_transaction(lambda session: api_key_service.revoke(session, key_id))
    typer.echo(f"Revoked API key {revoked.id} ({revoked.name}).")
