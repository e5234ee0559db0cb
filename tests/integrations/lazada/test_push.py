from __future__ import annotations

import orjson
import pytest

from app.integrations.lazada.push import InvalidPush, parse_push
from app.models import EventState
from tests.helpers import trade_push


class TestParsePush:
    def test_trade_order_push(self) -> None:
        push = parse_push(trade_push(status="packed", site="LAZADA-VN"))
        assert push.message_type == 0
        assert push.order_id == "446156718969495"
        assert push.line_id == "446156719069495"
        assert push.status == "packed"
        assert push.site == "lazada_vn"
        assert push.country == "vn"
        assert push.to_new_event().state == EventState.pending

    def test_dedupe_key_uses_the_documented_fields(self) -> None:
        first = parse_push(trade_push(status="pending", update_time=1))
        assert (
            first.dedupe_key == parse_push(trade_push(status="pending", update_time=1)).dedupe_key
        )
        others = [
            trade_push(status="packed", update_time=1),
            trade_push(status="pending", update_time=2),
            trade_push(status="pending", update_time=1, line_id="2"),
            trade_push(status="pending", update_time=1, seller_id="9"),
            trade_push(status="pending", update_time=1, site="lazada_sg"),
        ]
        assert len({first.dedupe_key, *(parse_push(b).dedupe_key for b in others)}) == 6

    def test_reverse_push_with_numeric_ids(self) -> None:
        body = orjson.dumps(
            {
                "seller_id": "12345",
                "message_type": 10,
                "data": {
                    "reverse_order_id": 658960600102006,
                    "reverse_status": "RTM_INIT",
                    "trade_order_id": 416557324702006,
                    "trade_order_line_id": 416557324802006,
                    "reverse_order_line_id": 663790000102006,
                    "status_update_time": 1626767698,
                },
                "timestamp": 1627889609,
                "site": "lazada_sg",
            }
        )
        push = parse_push(body)
        assert push.order_id == "416557324702006"
        assert push.status == "RTM_INIT"
        assert push.line_id == "663790000102006"

    def test_token_alert_takes_seller_from_data(self) -> None:
        body = orjson.dumps(
            {
                "seller_id": "null",
                "message_type": 8,
                "data": {"app_key": "123456", "auth_expiry_time": 1700000000, "seller_id": "77"},
                "timestamp": 1627889609,
                "site": "lazada_ph",
            }
        )
        push = parse_push(body)
        assert push.seller_id == "77"
        assert push.country == "ph"
        assert push.to_new_event().state == EventState.pending

    def test_other_types_are_stored_but_ignored(self) -> None:
        body = orjson.dumps({"seller_id": "1", "message_type": 3, "data": {"item_id": 5}})
        assert parse_push(body).to_new_event().state == EventState.ignored

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            (b"not json", "malformed_json"),
            (b"", "malformed_json"),
            (b"[1, 2]", "invalid_push"),
            (b'{"data": {}}', "invalid_push"),
            (b'{"message_type": "zero", "data": {}}', "invalid_push"),
            # Found by hypothesis: str.isdigit() accepts superscripts, int() does not.
            ('{"message_type": "\u00b2", "data": {}}'.encode(), "invalid_push"),
            (b'{"message_type": 0, "data": []}', "invalid_push"),
            (b'{"message_type": 0, "data": {"order_status": "pending"}}', "invalid_push"),
            (
                b'{"message_type": 0, "seller_id": {"$ne": 1}, "data": {"trade_order_id": "1"}}',
                "invalid_push",
            ),
            (b'{"message_type": 0, "data": {"trade_order_id": "1\\u0000"}}', "invalid_push"),
            (
                b'{"message_type": 0, "data": {"trade_order_id": "' + b"9" * 65 + b'"}}',
                "invalid_push",
            ),
        ],
    )
    def test_rejects_what_is_not_a_push(self, body: bytes, code: str) -> None:
        with pytest.raises(InvalidPush) as caught:
            parse_push(body)
        assert caught.value.code == code

    def test_unicode_and_sql_looking_ids_are_just_text(self) -> None:
        push = parse_push(trade_push(order_id="1'; DROP TABLE orders;--", line_id="línea-1"))
        assert push.order_id == "1'; DROP TABLE orders;--"
        assert push.line_id == "línea-1"
