"""Every parameter and every JSON body field an OpenAPI document declares, and requests that
are valid but for one hostile value.

The document is the service's own ``/openapi.json``, so a route or field added later is
walked without anyone remembering to add it here.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

METHODS = ("get", "put", "post", "patch", "delete")
SENTINEL = "@@hostile@@"


@dataclass(frozen=True)
class Hostile:
    """One bad value, as parameter text and as a JSON value."""

    label: str
    text: str
    json: bytes

    @classmethod
    def string(cls, label: str, value: str) -> Hostile:
        # ensure_ascii writes a lone surrogate as the escape "\ud800": JSON allows it, though it
        # is not Unicode.
        return cls(label, value, json.dumps(value).encode())

    @property
    def raw(self) -> bytes:
        """The text as bytes on the wire: a lone surrogate becomes ED A0 80, what a UTF-8
        encoder that does not check would write."""
        return self.text.encode("utf-8", "surrogatepass")


STRINGS = (
    Hostile.string("NUL", "\x00"),
    Hostile.string("NUL inside", "a\x00b"),
    Hostile.string("lone surrogate", "\ud800"),
    Hostile.string("10,000 characters", "a" * 10_000),
)
NUMBERS = (
    Hostile("2**63", str(2**63), str(2**63).encode()),
    Hostile("-2**63-1", str(-(2**63) - 1), str(-(2**63) - 1).encode()),
    Hostile("1e309", "1e309", b"1e309"),
)
DATES = tuple(
    Hostile.string(f"date {value}", value)
    for value in (
        "0000-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "9999-12-31T23:59:59+14:00",
        # Fine as written, out of range in UTC: asyncpg converts every timestamptz it sends.
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
    )
)


@dataclass(frozen=True)
class Target:
    """One place a request carries a value: a parameter, or a field of a JSON body."""

    method: str
    path: str
    location: str  # path, query, header or body
    name: str  # the parameter's name, or the field's path in the body ("item_ids[]")
    kind: str  # string, date-time, integer, number, boolean, ...
    variant: int = 0  # which of a body's oneOf schemas

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} {self.location}:{self.name}#{self.variant}"

    def hostiles(self) -> tuple[Hostile, ...]:
        extra = {"integer": NUMBERS, "number": NUMBERS, "date-time": DATES}.get(self.kind, ())
        return STRINGS + extra


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes | None


class Walker:
    def __init__(
        self,
        document: dict[str, Any],
        known: dict[str, Callable[[], str]],
        *,
        security: str | None = None,
    ) -> None:
        """``known``: baseline values by parameter name (a real account's id, say).
        ``security``: walk only the operations that scheme authenticates."""
        self.document = document
        self.known = known
        self.security = security

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def plain(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` without its ``null`` alternative (``X | None``), references resolved."""
        schema = self.resolve(schema)
        for key in ("anyOf", "oneOf"):
            options = [s for s in schema.get(key, []) if self.resolve(s).get("type") != "null"]
            if len(options) == 1:
                rest = {k: v for k, v in schema.items() if k != key}
                return self.plain({**rest, **self.resolve(options[0])})
        return schema

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, item in self.document["paths"].items():
            for method in METHODS:
                if method in item and self._secured(item[method]):
                    yield method, path, item[method]

    def _secured(self, operation: dict[str, Any]) -> bool:
        if self.security is None:
            return True
        return any(self.security in entry for entry in operation.get("security", []))

    def kind(self, schema: dict[str, Any]) -> str:
        schema = self.plain(schema)
        if schema.get("type") == "array":
            return self.kind(schema.get("items", {}))
        if schema.get("format") == "date-time":
            return "date-time"
        return str(schema.get("type", "string"))

    def variants(self, operation: dict[str, Any]) -> list[dict[str, Any]]:
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            return []
        schema = self.resolve(content["application/json"]["schema"])
        return [self.resolve(s) for s in schema.get("oneOf", [schema])]

    def targets(self) -> list[Target]:
        found = []
        for method, path, operation in self.operations():
            for parameter in operation.get("parameters", []):
                found.append(
                    Target(
                        method,
                        path,
                        parameter["in"],
                        parameter["name"],
                        self.kind(parameter["schema"]),
                    )
                )
            for index, schema in enumerate(self.variants(operation)):
                for name, leaf in self.fields(schema):
                    found.append(Target(method, path, "body", name, self.kind(leaf), index))
        return found

    def fields(
        self, schema: dict[str, Any], prefix: str = ""
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every leaf of a body schema (its path and schema), nested objects and arrays
        included."""
        schema = self.plain(schema)
        if schema.get("type") == "array":
            yield from self.fields(schema.get("items", {}), prefix + "[]")
        elif schema.get("type") == "object" or "properties" in schema:
            for name, child in schema.get("properties", {}).items():
                yield from self.fields(child, f"{prefix}.{name}" if prefix else name)
        else:
            yield prefix, schema

    def sample(self, schema: dict[str, Any], name: str = "") -> Any:
        """A valid value for ``schema``."""
        if name in self.known:
            return self.known[name]()
        schema = self.plain(schema)
        if "const" in schema:
            return schema["const"]
        for key in ("enum", "examples"):
            if schema.get(key):
                return copy.deepcopy(schema[key][0])  # the caller may change it
        kind = schema.get("type")
        if kind == "array":
            return [self.sample(schema.get("items", {}))]
        if kind == "object" or "properties" in schema:
            return {k: self.sample(v, k) for k, v in schema.get("properties", {}).items()}
        if kind == "integer":
            return max(int(schema.get("minimum", 1)), 1)
        if kind == "number":
            return 1
        if kind == "boolean":
            return False
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        if schema.get("format") == "date-time":
            return "2020-01-01T00:00:00Z"
        return "1"

    def request(
        self,
        method: str,
        path: str,
        *,
        variant: int = 0,
        hostile: tuple[Target, Hostile] | None = None,
    ) -> Request:
        """The operation's baseline request (``variant``: which body schema), or with one value
        replaced by a hostile one."""
        operation = self.document["paths"][path][method]
        target, bad = hostile if hostile else (None, None)
        if target is not None:
            variant = target.variant
        url = path
        query: list[str] = []
        headers: list[tuple[bytes, bytes]] = []
        for parameter in operation.get("parameters", []):
            name, where = parameter["name"], parameter["in"]
            hit = target is not None and target.location == where and target.name == name
            if not hit and where == "query" and not parameter.get("required"):
                continue
            if hit:
                assert bad is not None
                raw = bad.raw
            else:
                value = self.sample(parameter["schema"], name)
                raw = str(value[0] if isinstance(value, list) else value).encode()
            if where == "path":
                url = url.replace("{" + name + "}", quote(raw, safe=""))
            elif where == "query":
                query.append(f"{quote(name)}={quote(raw, safe='')}")
            elif where == "header":
                headers.append((name.lower().encode(), raw))
        body = None
        variants = self.variants(operation)
        if variants:
            document = self.sample(variants[variant])
            fragment = None
            if target is not None and target.location == "body":
                assert bad is not None
                _put(document, target.name, SENTINEL)
                fragment = bad.json
            body = json.dumps(document).encode()
            if fragment is not None:
                body = body.replace(json.dumps(SENTINEL).encode(), fragment)
        if query:
            url += "?" + "&".join(query)
        return Request(method.upper(), url, headers, body)


def _put(document: Any, path: str, value: Any) -> None:
    """Set the leaf at ``path`` ("a.b", "items[]") of a sampled body to ``value``."""
    *parents, leaf = path.split(".")
    node = document
    for part in parents:
        node = node[part.removesuffix("[]")]
        if part.endswith("[]"):
            node = node[0]
    if leaf.endswith("[]"):
        node[leaf.removesuffix("[]")] = [value]
    else:
        node[leaf] = value
