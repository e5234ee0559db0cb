"""OpenAPI that tells the truth about our errors: every 4xx/5xx is application/problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. `code` is stable: switch on it.",
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string", "examples": ["validation_error"]},
    },
    "additionalProperties": True,
}


def install_problem_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if not isinstance(responses, dict):
                    continue
                for status, response in responses.items():
                    if str(status)[:1] not in {"4", "5"}:
                        continue
                    content = response.setdefault("content", {})
                    example = (content.pop("application/json", None) or {}).get("example")
                    problem = content.setdefault("application/problem+json", {})
                    problem["schema"] = {"$ref": "#/components/schemas/Problem"}
                    if example is not None:
                        problem.setdefault("example", example)
                    # The validation envelope FastAPI documents by default is not what we send.
                    if response.get("description") == "Validation Error":
                        response["description"] = (
                            "Request is not valid (`code`: `validation_error`)"
                        )
        schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
        schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
