from __future__ import annotations


def is_ascii_digits(value: str) -> bool:
    """``str.isdigit`` also accepts "²" or "٣", which ``int()`` then refuses: digits 0-9 only."""
    return value.isascii() and value.isdigit()
