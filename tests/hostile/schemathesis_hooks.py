"""Extra schemathesis check: every error we answer is RFC 9457 problem+json with a code."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.check
def problem_json_errors(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(f"{response.status_code} answered as {content_type!r}")
    body = response.json()
    for field in ("type", "title", "status", "code"):
        if field not in body:
            raise AssertionError(f"problem without {field!r}: {body}")
    if body["status"] != response.status_code:
        raise AssertionError(f"problem status {body['status']} != {response.status_code}")
    return None
