"""Text a hostile caller sends, for property tests.

``st.text()`` never yields a lone surrogate (it leaves out category Cs) and yields NUL only
by luck; these strategies put both in on purpose, next to other characters that trip
parsers and databases, and make some strings longer than any of our columns.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

NASTY = (
    "\x00",  # Postgres text refuses it
    "\ud800",  # lone surrogates: not encodable to UTF-8
    "\udbff",
    "\udc00",
    "\udfff",
    "\x7f",
    "\x1b",
    "\r",
    "\n",
    "\u2028",
    "\ufeff",
    "\uffff",
    "%",
    "/",
    ",",
)

hostile_characters = st.one_of(
    st.sampled_from(NASTY),
    # Every code point, surrogates included.
    st.characters(categories=["L", "M", "N", "P", "S", "Z", "C"]),
    st.sampled_from("0123456789"),
)

# Ids as our routes take them (ASCII letters, digits, "_" and "-"; digits alone for items),
# sometimes with one nasty character slipped in: the values that almost pass.
id_like = st.one_of(
    st.text(st.sampled_from(string.digits), min_size=1, max_size=22),
    st.text(st.sampled_from(string.ascii_letters + string.digits + "_-"), min_size=1, max_size=66),
)
almost_ids = st.tuples(id_like, st.sampled_from(NASTY), st.integers(0, 66)).map(
    lambda parts: parts[0][: parts[2]] + parts[1] + parts[0][parts[2] :]
)

hostile_texts = st.one_of(
    id_like,
    almost_ids,
    st.text(hostile_characters, max_size=30),
    # Around the 64 characters of an id column, and past the 255 and 500 of others.
    st.text(hostile_characters, min_size=60, max_size=70),
    st.text(hostile_characters, min_size=250, max_size=600),
)
