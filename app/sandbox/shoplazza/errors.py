"""Shoplazza's error bodies. The docs allow two shapes, ``{"errors": [...]}`` and
``{"error": "..."}``; the sandbox picks one per status, always the same:

* ``{"error": "..."}``: 401, 403, 429, 500 (gateway and platform refusals, no request detail);
* ``{"errors": ["..."]}``: 400, 404, 406, 422 (problems with this request or this resource;
  404 is the spec's own ``{"errors": ["Unable to find resource"]}``);
* ``{"errors": {"field": ["..."]}}``: 422 for bad query parameters of the list endpoints, the
  shape the 2022-01 spec shows for list-parameter validation.
"""

from __future__ import annotations

from typing import Any

SINGLE_STRING_STATUSES = frozenset({401, 403, 429, 500})
NOT_FOUND = "Unable to find resource"


class ShoplazzaError(Exception):
    def __init__(
        self,
        status: int,
        *messages: str,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {'; '.join(messages) or fields}")
        self.status = status
        self.messages = list(messages)
        self.fields = fields
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        if self.fields is not None:
            return {"errors": self.fields}
        if self.status in SINGLE_STRING_STATUSES:
            return {"error": "; ".join(self.messages)}
        return {"errors": self.messages}


def not_found() -> ShoplazzaError:
    return ShoplazzaError(404, NOT_FOUND)
