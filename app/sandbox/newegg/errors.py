"""Newegg's error answers: a list of ``{"Code", "Message"}`` (XML ``<Errors><Error>``).

SO-code texts are the Cancel Order page's. ``SB001`` is the sandbox's own, used where Newegg's
code for an invalid value is not documented (a bad ``version``, ``PageSize``, ``Status``...).
"""

from __future__ import annotations

from typing import Any

SO_MESSAGES = {
    "SO001": "Seller ID cannot be null or empty",
    "SO002": "Order Number should be an integer (ranging from 1 to 2147483647)",
    "SO003": "No data found or this order does not belong to this seller",
    "SO004": "This is a replacement SO with a RMA number. It cannot be voided",
    "SO006": "Only unshipped orders can be voided. The order status is currently {0}",
    "SO007": "Cannot get the order status info",
    "SO008": "This order has already been voided",
    "SO009": "Order number cannot be null or empty",
    "SO010": "Invalid order. No item exists",
    "SO014": "The action should be [ Canceled = 1 | Shipped = 2]",
    "SO015": "The Argument '{0}' cannot be null",
    "SO016": (
        "This order has not been downloaded onto seller portal yet. "
        "Please re-submit your request after two hours."
    ),
    "SO017": (
        "Reason code should be [24 \u2014 OutOfStock,72 \u2014 Customer Requested to Cancel,"
        "73 \u2014 PriceError,74 \u2014 Unable to Fulfill the Order]"
    ),
    "SO027": "This order has already been shipped.",
    "SO030": "There is a format error in shipment segment of this XML request.",
    "SO036": "The order\u2019s shipping method is null. Please contact System Admin.",
}


class NeweggError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> list[dict[str, Any]]:
        return [{"Code": self.code, "Message": self.message}]


def so(code: str, *args: str) -> NeweggError:
    return NeweggError(400, code, SO_MESSAGES[code].format(*args))


def invalid(name: str, detail: str) -> NeweggError:
    return NeweggError(400, "SB001", f"Invalid value for '{name}': {detail}")


def unauthorized(code: str, message: str) -> NeweggError:
    return NeweggError(401, code, message)


def throttled(headers: dict[str, str]) -> NeweggError:
    return NeweggError(429, "429", "Too many request.", headers)
