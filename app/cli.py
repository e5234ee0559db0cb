"""The ``ordersync`` command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated

import structlog
import typer

from app.accounts.cli import secrets_cli
from app.api_keys.cli import api_keys_cli
from app.config import (
    ConfigError,
    DatabaseSettings,
    Settings,
    load_database_settings,
    load_settings,
)
from app.kit import loop
from app.kit.priority import lower_priority
from app.logging import configure_logging

cli = typer.Typer(
    help="Marketplace order sync: webhooks in, orders in Postgres, one REST API out.",
    no_args_is_help=True,
    add_completion=False,
    # Plain click help: Rich's boxes showed a type on every flag (`--worker <bool>`) and took
    # `[env: ...]` in a help text for markup.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
cli.add_typer(api_keys_cli, name="api-keys")
cli.add_typer(secrets_cli, name="secrets")


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise _fail(f"{exc}\nSee README.md, 'Configuration'.") from None
    configure_logging(level=settings.log_level, json=settings.log_json)
    return settings


def _database_url(settings: DatabaseSettings | None = None, *, announce: str | None = None) -> str:
    from app.db import EmbeddedPostgresError, resolve_database_url

    base = settings or load_database_settings()
    if not base.database_url:
        default = f"DATABASE_URL is not set: starting an embedded Postgres in {base.data_dir}/"
        typer.echo(announce or default)
    try:
        return resolve_database_url(base)
    except EmbeddedPostgresError as exc:
        raise _fail(str(exc)) from None


def _database_problem(database_url: str, exc: BaseException) -> str:
    """One line for a database that cannot be used: where (never the password), and why."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    host = url.host or url.query.get("host") or "localhost"
    where = f"{host}:{url.port or 5432}" if url.host else str(host)
    cause: BaseException = exc
    while cause.__cause__ is not None:  # SQLAlchemy wraps the driver's error
        cause = cause.__cause__
    if isinstance(cause, ConnectionRefusedError):
        why = "connection refused (is Postgres running there?)"
    elif isinstance(cause, socket.gaierror):
        why = f"unknown host ({cause.strerror})"
    elif isinstance(cause, TimeoutError):
        why = "no answer in time"
    elif isinstance(cause, OSError) and cause.strerror:
        why = cause.strerror
    else:
        why = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
    return (
        f"Cannot use the database at {where} (database {url.database!r}, user "
        f"{url.username!r}): {why}. Check DATABASE_URL."
    )


@contextlib.contextmanager
def database_errors(database_url: str) -> Iterator[None]:
    """Turn a database that cannot be reached or entered into one line and exit code 2."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError

    refused_at_connect = (
        asyncpg.InvalidAuthorizationSpecificationError,  # unknown role, wrong password
        asyncpg.InvalidCatalogNameError,  # no such database
        asyncpg.CannotConnectNowError,  # starting up, shutting down
        asyncpg.TooManyConnectionsError,
    )
    try:
        yield
    except (OSError, *refused_at_connect) as exc:
        raise _fail(_database_problem(database_url, exc)) from None
    except DBAPIError as exc:
        if exc.statement is not None:
            raise  # a statement failed on a working connection: a bug, not the configuration
        raise _fail(_database_problem(database_url, exc)) from None


def _migrate(database_url: str) -> None:
    from app.migrate import upgrade

    typer.echo("Applying database migrations...")
    with database_errors(database_url):
        upgrade(database_url)
    typer.echo("Database schema is up to date.")


def _exit_cleanly_on_signals(*, stopping_is_success: bool) -> None:
    """SIGTERM's default kills the process before atexit runs, which would leave the embedded
    Postgres behind; uvicorn also raises SIGINT and SIGTERM again once it has shut down, which
    would end in a traceback. Both exit through ``sys.exit`` instead: with 0 for a server,
    whose normal end is a signal, with 128 + the signal's number for a command cut short."""

    def leave(signum: int, _: object) -> None:
        sys.exit(0 if stopping_is_success else 128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, leave)


def _check_spool(settings: Settings) -> None:
    """The webhook's spool keeps acknowledged pushes while the database is down: a directory
    that cannot be written stops the start-up here, in one line, instead of in the lifespan."""
    directory = settings.spool_directory
    name = "ORDERSYNC_SPOOL_DIR" if settings.spool_dir else "ORDERSYNC_DATA_DIR"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise _fail(
            f"{name}: cannot write the webhook's spool in {directory.absolute()} "
            f"({exc.strerror}). Point {name} at a writable directory that survives restarts "
            "(the image declares /var/lib/ordersync)."
        ) from None


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic upgrade head)."""
    try:
        settings = load_database_settings()
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    configure_logging(level=settings.log_level, json=settings.log_json)
    _exit_cleanly_on_signals(stopping_is_success=False)
    _migrate(_database_url(settings))


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the API and webhooks.")] = 8000,
    worker: Annotated[bool, typer.Option(help="Run the background worker in this process.")] = True,
    api: Annotated[bool, typer.Option(help="Serve the HTTP API in this process.")] = True,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations before starting.")
    ] = True,
) -> None:
    """Run the API (with webhooks and /docs) and the worker."""
    if not (api or worker):
        raise _fail("Nothing to run: --no-api and --no-worker together.")
    settings = _settings()
    _exit_cleanly_on_signals(stopping_is_success=True)
    listener: socket.socket | None = None
    if api:
        listener = _listen(host, port)  # a busy port is one line at once, before anything starts
        _check_spool(settings)
    database_url = _database_url(settings)
    if migrate_first:
        _migrate(database_url)
    if listener is None:
        loop.run(_run_worker(settings, database_url, health_port=None))
        return
    import uvicorn

    from app.main import create_app

    application = create_app(settings, database_url, with_worker=worker)
    config = uvicorn.Config(application, log_level="warning", access_log=False)
    typer.echo(f"ordersync on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    uvicorn.Server(config).run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    from app.kit.server import CannotListen, bind

    try:
        return bind(host, port)
    except CannotListen as exc:
        raise _fail(str(exc)) from None


async def _run_worker(
    settings: Settings, database_url: str, *, host: str = "127.0.0.1", health_port: int | None
) -> None:
    from app.db import create_engine, create_sessionmaker
    from app.health import Health, create_health_app
    from app.integrations.http import new_http_client
    from app.kit.server import BackgroundServer
    from app.worker.context import WorkerContext
    from app.worker.runner import add_worker_loops, new_supervisor

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine = create_engine(database_url, process_name="ordersync-worker", pool_size=10)
    http = new_http_client(timeout=settings.http_timeout)
    sessionmaker = create_sessionmaker(engine)
    supervisor = new_supervisor(settings)
    add_worker_loops(
        supervisor, WorkerContext(settings, sessionmaker, http, engine=engine), database_url
    )
    server: BackgroundServer | None = None
    try:
        supervisor.start()
        if health_port is not None:
            health = Health(supervisor, engine, None, settings.loop_down_grace)
            server = BackgroundServer(
                create_health_app(health, sessionmaker), host=host, port=health_port
            )
            await server.start()
            typer.echo(f"worker health on {server.url}/healthz, /readyz, /metrics")
        await stop.wait()
    finally:
        if server is not None:
            await server.stop()
        await supervisor.stop()
        await http.aclose()
        await engine.dispose()


@cli.command()
def worker(
    health_port: Annotated[
        int | None,
        typer.Option(help="Serve /healthz, /readyz and /metrics for this worker on this port."),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface for --health-port.")] = "127.0.0.1",
) -> None:
    """Run only the background worker (as many as you like, against one database)."""
    settings = _settings()
    applied = lower_priority(settings.worker_priority)
    structlog.get_logger(__name__).info("worker.priority", priority=applied)
    if health_port is not None:
        _listen(host, health_port).close()  # a busy port is one line, before anything starts
    loop.run(_run_worker(settings, _database_url(settings), host=host, health_port=health_port))


@cli.command()
def backfill(
    account: Annotated[uuid.UUID, typer.Option(help="The account's id (GET /v1/accounts).")],
    since: Annotated[
        datetime,
        typer.Option(
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
            help="Load orders updated since this date (UTC unless it has an offset).",
        ),
    ],
) -> None:
    """Load a Lazada account's order history in this process, printing progress."""
    settings = _settings()
    database_url = _database_url(settings)
    from app.exceptions import AppError
    from app.integrations.lazada.tokens import AccountNeedsReauth
    from app.sync_runs.cli import report, run_backfill

    try:
        with database_errors(database_url):
            run = asyncio.run(run_backfill(settings, database_url, account, since))
    except AppError as exc:
        raise _fail(exc.detail) from None
    except AccountNeedsReauth as exc:
        raise _fail(
            f"{exc}: store its new tokens first (PUT /v1/accounts/{{id}}/tokens)."
        ) from None
    report(run)
    if run.status != "succeeded":
        raise typer.Exit(code=1)


@cli.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Lazada: its API is under /rest.")] = 9000,
    shoplazza_port: Annotated[
        int, typer.Option(help="Shoplazza: set SHOPLAZZA_API_BASE to this server.")
    ] = 9001,
    newegg_port: Annotated[
        int, typer.Option(help="Newegg: set NEWEGG_API_BASE to this server.")
    ] = 9002,
    app_key: Annotated[
        str | None, typer.Option(help="App key pushes are signed with.", envvar="LAZADA_APP_KEY")
    ] = None,
    app_secret: Annotated[
        str | None,
        typer.Option(help="App secret.", envvar="LAZADA_APP_SECRET", show_default=False),
    ] = None,
    webhook_url: Annotated[
        str, typer.Option(help="Where the Lazada sandbox sends its pushes.")
    ] = "http://127.0.0.1:8000/webhooks/lazada",
) -> None:
    """Run stand-ins for Lazada, Shoplazza and Newegg (their APIs, pushes and fault knobs).

    Each has a control API under /_sandbox (docs at /_sandbox/docs on the Lazada one)."""
    if not app_key or not app_secret:
        raise _fail("The sandbox needs --app-key and --app-secret (or LAZADA_APP_KEY/SECRET).")
    configure_logging()
    from app.kit.server import CannotListen

    try:
        asyncio.run(
            _run_sandboxes(
                host, port, shoplazza_port, newegg_port, app_key, app_secret, webhook_url
            )
        )
    except CannotListen as exc:
        raise _fail(str(exc)) from None


async def _run_sandboxes(
    host: str,
    port: int,
    shoplazza_port: int,
    newegg_port: int,
    key: str,
    secret: str,
    webhook_url: str,
) -> None:
    from app.kit.server import BackgroundServer
    from app.sandbox.lazada.app import create_lazada_sandbox
    from app.sandbox.newegg.app import create_newegg_sandbox
    from app.sandbox.shoplazza.app import create_shoplazza_sandbox

    servers = {
        "Lazada": (
            BackgroundServer(
                create_lazada_sandbox(app_key=key, app_secret=secret, webhook_url=webhook_url),
                host=host,
                port=port,
            ),
            "/rest",
        ),
        "Shoplazza": (
            BackgroundServer(create_shoplazza_sandbox(), host=host, port=shoplazza_port),
            "",
        ),
        "Newegg": (BackgroundServer(create_newegg_sandbox(), host=host, port=newegg_port), ""),
    }
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    for name, (server, suffix) in servers.items():
        await server.start()
        typer.echo(f"{name} sandbox on {server.url}{suffix} (control API: {server.url}/_sandbox)")
    typer.echo(f"Lazada pushes go to {webhook_url}")
    try:
        await stop.wait()
    finally:
        for server, _ in servers.values():
            await server.stop()


@cli.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface for the service and the sandboxes.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="The service (API, webhooks, /docs).")] = 8000,
    lazada_port: Annotated[int, typer.Option(help="The Lazada sandbox.")] = 9000,
    shoplazza_port: Annotated[int, typer.Option(help="The Shoplazza sandbox.")] = 9001,
    newegg_port: Annotated[int, typer.Option(help="The Newegg sandbox.")] = 9002,
    data_dir: Annotated[
        Path, typer.Option(help="The demo's own state (Postgres, spool), apart from serve's.")
    ] = Path(".ordersync/demo"),
    database_url: Annotated[
        str | None,
        typer.Option(help="A Postgres of your choice instead of the demo's embedded one."),
    ] = None,
) -> None:
    """Try ordersync without marketplace accounts: the service, the three sandboxes and a
    connected demo seller at each, in one process. Its port opens once they are connected."""
    from app.demo import DemoError, DemoPorts, check_ports, demo_settings, run_demo
    from app.kit.server import CannotListen

    ports = DemoPorts(port, lazada_port, shoplazza_port, newegg_port)
    try:
        settings = demo_settings(host, ports, data_dir, database_url)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    # The demo talks to a terminal: warnings only, unless ORDERSYNC_LOG_LEVEL says otherwise.
    level = settings.log_level if "ORDERSYNC_LOG_LEVEL" in os.environ else "warning"
    configure_logging(level=level, json=settings.log_json)
    _exit_cleanly_on_signals(stopping_is_success=True)
    try:
        check_ports(host, ports)
    except CannotListen as exc:
        raise _fail(str(exc)) from None
    url = _database_url(
        settings, announce=f"Starting the demo's own embedded Postgres in {data_dir}/"
    )
    _migrate(url)
    try:
        loop.run(run_demo(settings, url, host, ports))
    except (CannotListen, DemoError) as exc:
        raise _fail(str(exc)) from None


def main() -> None:
    cli()
