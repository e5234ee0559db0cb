"""Lazada's error envelope: failures travel in HTTP 200 bodies with a non-"0" ``code``."""

from __future__ import annotations

import secrets
from typing import Any, Literal

ErrorType = Literal["ISV", "ISP", "SYSTEM"]


def request_id() -> str:
    return secrets.token_hex(12)


class LazadaError(Exception):
    def __init__(self, code: str, message: str, *, type_: ErrorType = "ISV") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.type = type_

    def envelope(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "request_id": request_id(),
        }


def missing(name: str) -> LazadaError:
    return LazadaError(
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request '
        "is not supplied",
    )


def invalid(name: str) -> LazadaError:
    return LazadaError("InvalidParameter", f'The specified parameter "{name}" is not valid')


def require(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if value == "":
        raise missing(name)
    return value


def throttled(code: str) -> LazadaError:
    if code == "901":
        message = (
            "E901: The request is too frequent, "
            "or the requested functionality is temporarily disabled"
        )
    else:
        message = "Api access frequency exceeds the limit. this ban will last 1 seconds"
    return LazadaError(code, message, type_="ISP")
