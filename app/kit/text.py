"""Text rules shared by every boundary: what a request may carry into Postgres."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema


def is_ascii_digits(value: str) -> bool:
    """``str.isdigit`` also accepts "²" or "٣", which ``int()`` then refuses: digits 0-9 only."""
    return value.isascii() and value.isdigit()


def storable(value: str) -> str:
    """``value``, if a Postgres ``text`` column can hold it; else ``ValueError`` (a 422).

    A UTF-8 database refuses NUL, and a lone surrogate (U+D800-U+DFFF: JSON may escape one,
    ``"\\ud800"``) cannot be encoded to UTF-8 at all. Either would otherwise fail only at the
    database, as a 500.
    """
    if "\x00" in value:
        raise ValueError("must not contain NUL (U+0000) characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


@dataclass(frozen=True, slots=True)
class StorableText:
    """``Annotated[str, StorableText(max_length=N)]``: a string a request may store, at most N
    characters (never more than its column holds), refused with a 422 otherwise.

    One marker for body fields, query, path and header parameters alike. The length is checked
    first, so a huge value is refused before anything else looks at it; OpenAPI shows
    ``maxLength``.
    """

    max_length: int
    min_length: int = 0

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            storable,
            core_schema.str_schema(min_length=self.min_length or None, max_length=self.max_length),
        )
