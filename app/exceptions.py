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
    def schema(cls) -> dict[str, Any]:
        """For an endpoint's ``responses=``: documents this error in OpenAPI."""
        return {
            "description": f"{cls.title} (`code`: `{cls.code}`)",
            "content": {
                "application/problem+json": {
                    "example": {
                        "type": f"https://ordersync.dev/problems/{cls.code}",
                        "title": cls.title,
                        "status": cls.status_code,
                        "detail": cls.title,
                        "code": cls.code,
                    }
                }
            },
        }


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
