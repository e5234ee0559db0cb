from __future__ import annotations

import random

from app.kit.backoff import backoff_delay


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, base=1.0, cap=30.0, rng=rng) for n in range(1, 12)]
    assert all(0.5 <= d <= 30.0 for d in delays)
    assert max(delays[-4:]) > max(delays[:2])
    # Jitter: the same attempt does not always wait the same time.
    assert len({round(backoff_delay(5, base=1.0, cap=30.0, rng=rng), 6) for _ in range(20)}) > 1


def test_retry_after_is_a_floor_under_the_cap() -> None:
    assert backoff_delay(1, base=1.0, cap=30.0, retry_after=10.0) >= 10.0
    assert backoff_delay(1, base=1.0, cap=30.0, retry_after=100.0) == 30.0
