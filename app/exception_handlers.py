"""Render every error as RFC 9457 problem+json with a stable ``code``."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import DATA_ERRORS, refused_value
from app.exceptions import AppError, UnprocessableEntity

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://ordersync.dev/problems/"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, code, title, detail, instance) | extra
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_body(
    status: int, code: str, title: str, detail: str, instance: str | None = None
) -> dict[str, Any]:
    """The RFC 9457 members every answer of ours carries."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    return body


def app_error_body(exc: AppError, instance: str) -> dict[str, Any]:
    """The problem+json body an ``AppError`` is answered with (also by ``app.fast_routes``)."""
    return problem_body(exc.status_code, exc.code, exc.title, exc.detail, instance) | exc.extra


def unexpected_error_body(exc: Exception, instance: str) -> dict[str, Any]:
    """Log an error nobody expected and return the 500's body, which says nothing about it."""
    log.exception("http.unhandled_error", path=instance, error_type=type(exc).__name__)
    return problem_body(500, "internal_error", "Internal error", "Unexpected error", instance)


def app_error_response(request: Request, exc: AppError) -> JSONResponse:
    """How every ``AppError`` is answered."""
    return JSONResponse(
        app_error_body(exc, request.url.path),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=PROBLEM_JSON,
    )


class InvalidValue(UnprocessableEntity):
    code = "invalid_value"
    title = "A value in the request cannot be stored"


_APP_DIR = Path(__file__).resolve().parent


def invalid_value_error(exc: BaseException, path: str) -> InvalidValue | None:
    """A 422 for an error the database raised because of a value; None for any other error.

    The safety net under request validation, which should have refused the value first: this
    is logged as the bug it is, with where it happened but never the value (it may be a
    secret). The session's rollback leaves the connection usable; answering here rather than
    as an unexpected error also keeps the client's keep-alive connection open.
    """
    refused = refused_value(exc, constraints=False)
    if refused is None:
        return None
    log.warning(
        "http.invalid_value_reached_database",
        path=path,
        error_type=type(refused).__name__,
        sqlstate=getattr(refused, "sqlstate", None),
        where=_where(exc),
    )
    return InvalidValue(
        "A value in the request cannot be stored: text must not contain NUL characters or "
        "invalid Unicode, and numbers and dates must be within their documented ranges."
    )


def _where(exc: BaseException) -> str | None:
    """The innermost line of our own code the error passed through, as ``app/x.py:12``."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.startswith(str(_APP_DIR)):
            return f"{Path(frame.filename).relative_to(_APP_DIR.parent)}:{frame.lineno}"
    return None


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    error = invalid_value_error(exc, request.url.path)
    if error is None:
        raise exc  # not about a value: the unexpected error it is (500)
    return app_error_response(request, error)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return app_error_response(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Never echo the offending input: it may be a token someone pasted in the wrong field.
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return problem(
        422,
        "validation_error",
        "Request is not valid",
        "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)[:500],
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return problem(
        exc.status_code,
        code,
        code.replace("_", " ").capitalize(),
        str(exc.detail),
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    body = unexpected_error_body(exc, request.url.path)
    return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)


def add_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for database_error in (DBAPIError, *DATA_ERRORS):
        app.add_exception_handler(database_error, _database_error)
    app.add_exception_handler(Exception, _unhandled)
