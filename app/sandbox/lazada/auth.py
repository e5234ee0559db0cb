"""GenerateAccessToken and RefreshAccessToken: top-level bodies, no ``data`` wrapper (§1.4)."""

from __future__ import annotations

from typing import Any

from app.sandbox.lazada.call import Call
from app.sandbox.lazada.errors import require
from app.sandbox.lazada.models import Seller, Token


def _token_body(
    call: Call, seller: Seller, access: Token, refresh: Token, info_key: str
) -> dict[str, Any]:
    now = call.state.clock.now()
    return {
        "access_token": access.value,
        "refresh_token": refresh.value,
        "expires_in": max(0, round(access.expires_at - now)),
        # The refresh token's life is not reset by a refresh, so this shrinks over time.
        "refresh_expires_in": max(0, round(refresh.expires_at - now)),
        "country": seller.country,
        "account": seller.account,
        "account_id": seller.user_id,
        "account_platform": "seller_center",
        # The create API calls this list country_user_info, refresh country_user_info_list.
        info_key: [
            {
                "country": seller.country,
                "seller_id": seller.seller_id,
                "user_id": seller.user_id,
                "short_code": seller.short_code,
            }
        ],
        "code": "0",
    }


def refresh_token(call: Call) -> dict[str, Any]:
    seller, access, refresh = call.state.refresh(require(call.params, "refresh_token"))
    return _token_body(call, seller, access, refresh, "country_user_info_list")


def create_token(call: Call) -> dict[str, Any]:
    seller, access, refresh = call.state.exchange_code(require(call.params, "code"))
    return _token_body(call, seller, access, refresh, "country_user_info")
