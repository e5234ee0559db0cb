"""One error tree for everything we answer with a 4xx/5xx.

Each class has a stable ``code`` (callers switch on it) and an HTTP status; handlers in
``exception_handlers`` render them as RFC 9457 ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.headers = headers
        self.extra = extra or {}
        super().__init__(self.detail)

    @classmethod
    def example(cls) -> dict[str, Any]:
        """A problem+json body of this error, for the docs."""
        return {
            "type": f"https://ordersync.dev/problems/{cls.code}",
            "title": cls.title,
            "status": cls.status_code,
            "detail": cls.title,
            "code": cls.code,
        }

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """For an endpoint's ``responses=``: documents this error in OpenAPI."""
        return {
            "description": f"{cls.title} (`code`: `{cls.code}`)",
            "content": {"application/problem+json": {"example": cls.example()}},
        }


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """For an endpoint's ``responses=``: every error it answers with, grouped by status (one
    entry per status names each ``code`` once, with an example of each)."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        group = by_status.setdefault(error.status_code, [])
        if error not in group:
            group.append(error)
    docs: dict[int | str, dict[str, Any]] = {}
    for status, group in by_status.items():
        if len(group) == 1:
            docs[status] = group[0].schema()
            continue
        docs[status] = {
            "description": "; ".join(f"{e.title} (`code`: `{e.code}`)" for e in group),
            "content": {
                "application/problem+json": {
                    "examples": {e.code: {"summary": e.title, "value": e.example()} for e in group}
                }
            },
        }
    return docs


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"
    title = "Bad request"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    title = "Missing or invalid credentials"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnprocessableEntity(AppError):
    status_code = 422
    code = "validation_error"
    title = "Request is not valid"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"
    title = "Service temporarily unavailable"
