"""The one backoff formula: capped exponential with full jitter.

Marketplace retries, cancellation re-checks, reconcile pages and the restarts of supervised
loops all wait by it, so that a fleet of workers failing together (a marketplace outage, a
database restart) comes back spread over the window instead of in lockstep.
"""

from __future__ import annotations

import random


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): full-jitter exponential.

    Full jitter (a uniform draw up to the exponential ceiling) spreads a burst of failing jobs
    over the whole window, so that a mega-sale retry storm does not hit the marketplace in
    lockstep. A marketplace's ``Retry-After`` is a floor, capped like the rest.
    """
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    delay = (rng or random).uniform(base / 2, ceiling) if ceiling > base / 2 else ceiling
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)
