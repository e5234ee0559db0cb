"""structlog set-up: dotted event names with keyword fields, JSON in production.

Secrets never reach a log line: loggers are given ids, never tokens or bodies' signatures, and
``redact`` scrubs the few keys that could carry one should someone log a whole mapping.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "api_key",
        "secret_key",
        "authorization",
        "app_secret",
        "secret",
        "sign",
        "token",
    }
)

Logger = structlog.stdlib.BoundLogger


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = "***"
    return event_dict


def configure_logging(*, level: str = "info", json: bool = False) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(name)s %(message)s")
    # Third-party chatter (httpx logs every URL, which for Lazada includes the access token;
    # pgserver logs ~60 lines of initdb and pg_ctl output at each start and stop, and all of
    # it at error level when a command fails).
    noisy_loggers = (
        "httpx",
        "httpcore",
        "uvicorn.access",
        "pgqueuer",
        "alembic.runtime.plugins",
        "pgserver",
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for library in ("pgqueuer", "asyncpg.pool"):
        logging.getLogger(library).addFilter(_one_line_errors)


def _one_line_errors(record: logging.LogRecord) -> bool:
    """PgQueuer and asyncpg's pool log every failed flush and reconnect with its traceback:
    dozens a second while the database restarts, which the supervisor already reports in one
    line. Keep their message and the exception's class, drop the traceback."""
    if record.exc_info and record.exc_info[1] is not None:
        error = type(record.exc_info[1]).__name__
        record.msg, record.args = f"{record.getMessage()} ({error})", None
        record.exc_info, record.exc_text = None, None
    return True
