"""Property tests: the push parser never fails in an unplanned way, and our signatures agree
with Lazada's own SDK on any input."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lazop_sdk import sign as lazop_sign

from app.integrations.lazada.push import InvalidPush, parse_push
from app.integrations.lazada.signing import push_signature, rest_sign, verify_push_signature

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
ids = st.one_of(st.text(max_size=80), st.integers(), st.none(), st.booleans())
push_like = st.fixed_dictionaries(
    {},
    optional={
        "seller_id": ids,
        "message_type": st.one_of(st.integers(-5, 50), st.text(max_size=3), st.none()),
        "site": st.one_of(st.text(max_size=20), st.none()),
        "timestamp": st.one_of(st.integers(), st.text(max_size=5)),
        "data": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "trade_order_id": ids,
                    "trade_order_line_id": ids,
                    "order_status": ids,
                    "reverse_status": ids,
                    "status_update_time": st.one_of(st.integers(), st.text(max_size=25)),
                    "seller_id": ids,
                },
            ),
            json_values,
        ),
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_parse_or_are_refused(body: bytes) -> None:
    code = None
    try:
        parse_push(body)
    except InvalidPush as exc:
        code = exc.code
    assert code in {None, "invalid_push", "malformed_json"}


@settings(max_examples=500, deadline=None)
@given(push_like)
def test_push_shaped_objects_parse_or_are_refused(document: dict[str, object]) -> None:
    body = json.dumps(document).encode()
    try:
        push = parse_push(body)
    except InvalidPush:
        return
    # What we accept fits the inbox columns and always has a stable dedupe key.
    for value in (push.seller_id, push.site, push.order_id, push.line_id, push.status):
        assert value is None or (len(value) <= 64 and "\x00" not in value)
    assert 0 <= push.message_type <= 9999
    assert push.status_update_time is None or 0 <= push.status_update_time < 2**63
    assert push.dedupe_key == parse_push(body).dedupe_key
    event = push.to_new_event()
    assert event.dedupe_key == push.dedupe_key


params = st.dictionaries(
    st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=12
    ),
    st.text(max_size=30),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(params, st.text(min_size=1, max_size=30), st.text(max_size=40))
def test_rest_sign_agrees_with_lazadas_sdk(
    parameters: dict[str, str], secret: str, api: str
) -> None:
    parameters.pop("sign", None)
    path = "/" + api
    assert rest_sign(secret, path, parameters) == lazop_sign(secret, path, parameters)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.binary(max_size=64), st.text(max_size=20), st.text(max_size=20))
def test_push_signature_round_trip(body: bytes, other: bytes, key: str, secret: str) -> None:
    header = push_signature(key, secret, body)
    assert verify_push_signature(app_key=key, secret=secret, body=body, header=header)
    assert verify_push_signature(app_key=key, secret=secret, body=body, header=header.upper())
    if other != body:
        assert not verify_push_signature(app_key=key, secret=secret, body=other, header=header)
