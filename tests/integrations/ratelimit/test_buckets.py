"""Rate limits shared across processes, checked by what the Lazada sandbox saw.

Each "process" here has its own engine, HTTP client and limiter, as two ``ordersync`` processes
would (``test_processes.py`` runs real ones); they share only Postgres. The limits are set low
so that a few seconds show them. A token bucket of rate R and burst B allows at most B + R·t
calls in any t seconds: the assertions are that bound on the sandbox's own counts, with the
integer rounding as the only slack for the time a call takes from its token to the sandbox (a
call delayed by less than 1/R seconds, a quarter of a second at R = 4, cannot tip a count).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings, describe_validation_error
from app.integrations.ratelimit import MustWait
from app.kit.server import BackgroundServer
from tests.fixtures.services import make_settings
from tests.integrations.ratelimit.support import (
    BURST,
    RATE,
    a_process,
    assert_within,
    calls_seen,
    hammer_all,
    new_seller,
    throttled_get,
)

pytestmark = pytest.mark.usefixtures("clean_db")


def settings_for(sandbox_server: BackgroundServer, **limits: Any) -> Settings:
    return make_settings(
        sandbox_server.url, **{"lazada_rate": RATE, "lazada_burst": BURST, **limits}
    )


class TestTwoProcessesOneSeller:
    async def test_together_they_stay_under_the_sellers_limit(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer, database_url: str
    ) -> None:
        settings = settings_for(sandbox_server)
        seller = await new_seller(lazada, "300000000001")
        async with (
            a_process(settings, database_url, "one") as one,
            a_process(settings, database_url, "two") as two,
        ):
            made = await hammer_all([one, two], [seller], callers=4, seconds=3.0)
        seen = (await calls_seen(lazada))["by_seller"][seller.seller_id]
        assert seen["total"] == sum(made)  # every token was one call, every call had a token
        assert_within(seen, rate=RATE, burst=BURST)
        # Both took part, and together they got about the rate (a limiter that lets nothing
        # through would pass the bounds above): the burst, then the refill of 3 seconds.
        assert sum(made[:4]) > 0, made
        assert sum(made[4:]) > 0, made
        assert seen["total"] >= BURST + RATE, seen["total"]

    async def test_many_callers_in_each_never_overtake_the_bucket(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer, database_url: str
    ) -> None:
        """A dozen coroutines per process, one call each, all starting at once against a full
        bucket: the atomic take hands out the burst and then the refill, never a token twice."""
        burst = 8.0
        settings = settings_for(sandbox_server, lazada_burst=burst)
        seller = await new_seller(lazada, "300000000002")
        async with (
            a_process(settings, database_url, "one") as one,
            a_process(settings, database_url, "two") as two,
        ):
            client_one, client_two = one.lazada(seller.account), two.lazada(seller.account)
            await asyncio.gather(
                *(
                    client.get_order(seller.order_id)
                    for _ in range(12)
                    for client in (client_one, client_two)
                )
            )
            (row,) = await one.clients.limiters.read([seller.bucket_key])
        seen = (await calls_seen(lazada))["by_seller"][seller.seller_id]
        assert seen["total"] == 24
        assert_within(seen, rate=RATE, burst=burst)
        assert row.tokens >= 0  # never below empty


class TestThrottlingHoldsEveryProcess:
    async def test_a_throttle_seen_by_one_pauses_the_other(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer, database_url: str
    ) -> None:
        # The default burst (20): without the shared hold the second process would call at once.
        settings = make_settings(sandbox_server.url)
        seller = await new_seller(lazada, "300000000003")
        async with (
            a_process(settings, database_url, "one") as one,
            a_process(settings, database_url, "two") as two,
        ):
            await lazada.put("/_sandbox/faults", json={"throttle_next": 1})
            throttle = await throttled_get(one, seller)
            assert throttle.code == "ApiCallLimit"
            (row,) = await two.clients.limiters.read([seller.bucket_key])
            order, _ = await two.lazada(seller.account).get_order(seller.order_id)
        assert str(order.order_id) == seller.order_id
        throttled_at, answered_at = (await calls_seen(lazada))["by_seller"][seller.seller_id][
            "times"
        ]
        # Lazada's ban "will last 1 seconds" (no Retry-After): held from the answer on, so the
        # other process's call reached the sandbox only after that second. Both clocks are the
        # machine's: the sandbox stamps with time.time(), Postgres with clock_timestamp().
        assert row.held_until is not None
        assert row.held_until >= throttled_at + 1.0
        assert answered_at >= row.held_until
        assert answered_at - throttled_at >= 1.0

    async def test_callers_already_waiting_elsewhere_are_held_too(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer, database_url: str
    ) -> None:
        """Process two's callers are asleep on an empty bucket (each told when the next token
        comes) when process one holds it: when they wake, they find the hold and wait it out."""
        settings = settings_for(sandbox_server, lazada_rate=2.0, lazada_burst=1.0)
        seller = await new_seller(lazada, "300000000004")
        async with (
            a_process(settings, database_url, "one") as one,
            a_process(settings, database_url, "two") as two,
        ):
            await two.lazada(seller.account).get_order(seller.order_id)  # the one token
            waiting = [
                asyncio.ensure_future(two.lazada(seller.account).get_order(seller.order_id))
                for _ in range(3)
            ]
            # What one process does on a throttling answer (http.call_marketplace).
            await one.clients.limiters.bucket("lazada", str(seller.account.id)).hold(1.5)
            (row,) = await one.clients.limiters.read([seller.bucket_key])
            await asyncio.gather(*waiting)
        times = sorted((await calls_seen(lazada))["by_seller"][seller.seller_id]["times"])
        assert len(times) == 4
        assert row.held_until is not None
        assert min(times[1:]) >= row.held_until


class TestPerAppBucket:
    async def test_the_app_limit_holds_the_sum_over_sellers(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer, database_url: str
    ) -> None:
        app_rate, app_burst = 4.0, 2.0
        settings = settings_for(
            sandbox_server,
            lazada_rate=50.0,
            lazada_burst=50.0,
            lazada_app_rate=app_rate,
            lazada_app_burst=app_burst,
        )
        sellers = [await new_seller(lazada, f"30000000001{n}") for n in range(3)]
        async with (
            a_process(settings, database_url, "one") as one,
            a_process(settings, database_url, "two") as two,
        ):
            made = await hammer_all([one, two], sellers, callers=2, seconds=3.0)
        seen = await calls_seen(lazada)
        assert seen["total"] == sum(made)
        everyone = [at for s in seen["by_seller"].values() for at in s["times"]]
        whole = {
            "max_per_second": seen["max_per_second"],
            "total": seen["total"],
            "first_at": min(everyone),
            "last_at": max(everyone),
        }
        assert_within(whole, rate=app_rate, burst=app_burst)
        # Each seller alone was far under its own limit: the app's bucket did the pacing.
        assert all(s["total"] >= 1 for s in seen["by_seller"].values()), seen["by_seller"]
        assert seen["total"] >= app_burst + app_rate

    async def test_an_app_that_says_wait_burns_no_account_token(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer, database_url: str
    ) -> None:
        settings = settings_for(
            sandbox_server,
            lazada_rate=0.01,
            lazada_burst=3.0,
            lazada_app_rate=0.01,
            lazada_app_burst=1.0,
        )
        first, second = [await new_seller(lazada, f"30000000002{n}") for n in range(2)]
        async with a_process(settings, database_url, "one") as one:
            limiters = one.clients.limiters
            await one.lazada(first.account).get_order(first.order_id)  # the app's one token
            for seller in (first, second):
                refused = await throttled_get(one, seller)
                assert refused.code is None  # ours, not Lazada's: no call was made
                assert refused.retry_after is not None
                assert refused.retry_after > 10
            rows = {row.key: row for row in await limiters.read([first.bucket_key, "lazada:app"])}
            assert rows[first.bucket_key].tokens == pytest.approx(2.0, abs=0.01)
            (second_row,) = await limiters.read([second.bucket_key])
            assert second_row.tokens == pytest.approx(3.0, abs=0.01)
            assert rows["lazada:app"].tokens == pytest.approx(0.0, abs=0.01)
        assert (await calls_seen(lazada))["total"] == 1

    async def test_an_account_that_says_wait_burns_no_app_token(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer, database_url: str
    ) -> None:
        settings = settings_for(
            sandbox_server,
            lazada_rate=0.01,
            lazada_burst=1.0,
            lazada_app_rate=0.01,
            lazada_app_burst=5.0,
        )
        seller = await new_seller(lazada, "300000000030")
        async with a_process(settings, database_url, "one") as one:
            await one.lazada(seller.account).get_order(seller.order_id)
            await throttled_get(one, seller)
            (app,) = await one.clients.limiters.read(["lazada:app"])
        assert app.tokens == pytest.approx(4.0, abs=0.01)
        assert (await calls_seen(lazada))["total"] == 1


class TestMustWait:
    async def test_a_hold_longer_than_max_wait_refuses_at_once(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer, database_url: str
    ) -> None:
        settings = make_settings(sandbox_server.url)
        seller = await new_seller(lazada, "300000000040")
        async with (
            a_process(settings, database_url, "one") as one,
            a_process(settings, database_url, "two") as two,
        ):
            # What a 429 with "Retry-After: 30" does (http.call_marketplace holds the bucket).
            await one.clients.limiters.bucket("lazada", str(seller.account.id)).hold(30)
            started = time.monotonic()
            refused = await throttled_get(two, seller)
            assert time.monotonic() - started < 5  # refused, not waited for
        assert refused.retry_after is not None
        assert 25 < refused.retry_after <= 30
        assert (await calls_seen(lazada))["total"] == 0

    async def test_a_token_further_away_than_max_wait_refuses_at_once(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer, database_url: str
    ) -> None:
        settings = settings_for(sandbox_server, lazada_rate=0.05, lazada_burst=1.0)
        seller = await new_seller(lazada, "300000000041")
        async with a_process(settings, database_url, "one") as one:
            await one.lazada(seller.account).get_order(seller.order_id)
            refused = await throttled_get(one, seller)
        assert refused.retry_after == pytest.approx(20.0, abs=1.0)  # 1 token at 0.05 a second
        assert (await calls_seen(lazada))["total"] == 1

    async def test_callers_queued_past_max_wait_give_up(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer, database_url: str
    ) -> None:
        """Ten callers of one process on a bucket of 1 token and 2 a second, each willing to
        wait a second: the first gets the token, those the refill serves in time get theirs,
        the rest give up; none waits past its second."""
        settings = settings_for(sandbox_server, lazada_rate=2.0, lazada_burst=1.0)
        seller = await new_seller(lazada, "300000000042")
        async with a_process(settings, database_url, "one") as one:
            bucket = one.clients.limiters.bucket("lazada", str(seller.account.id))
            started = time.monotonic()
            outcomes = await asyncio.gather(
                *(bucket.acquire(max_wait=1.0) for _ in range(10)), return_exceptions=True
            )
            elapsed = time.monotonic() - started
        granted = [o for o in outcomes if o is None]
        refused = [o for o in outcomes if isinstance(o, MustWait)]
        assert len(granted) + len(refused) == 10
        assert 1 <= len(granted) <= 1 + 2 + 1  # the burst, then at most a second's refill
        assert refused
        assert elapsed < 3


class TestDatabaseUnavailable:
    async def test_the_limiter_raises_the_database_error(
        self, lazada: httpx.AsyncClient, sandbox_server: BackgroundServer
    ) -> None:
        """No database, no token, no call: the callers wait for the database as for any other
        statement (``app.db.database_unavailable`` says it is away)."""
        from app.db import database_unavailable

        settings = make_settings(sandbox_server.url)
        seller = await new_seller(lazada, "300000000050")
        # A port nothing listens on: the connection is refused.
        async with a_process(settings, "postgresql://nobody@127.0.0.1:9/none", "one") as one:
            with pytest.raises(ConnectionRefusedError) as raised:
                await one.lazada(seller.account).get_order(seller.order_id)
        assert database_unavailable(raised.value)
        assert (await calls_seen(lazada))["total"] == 0


class TestSettings:
    def test_defaults_are_the_limits_we_always_had(self) -> None:
        settings = make_settings("http://127.0.0.1:9")
        assert settings.account_rate_limits == {
            "lazada": (10.0, 20.0),
            "shoplazza": (2.0, 1.0),
            "newegg": (1000 / 3600, 10.0),
        }
        assert settings.app_rate_limits == {}  # no per-app limit unless configured

    def test_the_environment_sets_them(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ORDERSYNC_LAZADA_RATE", "5")
        monkeypatch.setenv("ORDERSYNC_LAZADA_BURST", "7")
        monkeypatch.setenv("ORDERSYNC_NEWEGG_RATE_PER_HOUR", "360")
        monkeypatch.setenv("ORDERSYNC_LAZADA_APP_RATE", "40")
        settings = make_settings("http://127.0.0.1:9")
        assert settings.account_rate_limits["lazada"] == (5.0, 7.0)
        assert settings.account_rate_limits["newegg"] == (0.1, 10.0)
        assert settings.app_rate_limits == {"lazada": (40.0, 40.0)}  # a second's worth of burst

    def test_a_burst_under_one_call_is_refused_naming_the_variable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ORDERSYNC_SHOPLAZZA_BURST", "0.5")
        with pytest.raises(ValidationError) as refused:
            make_settings("http://127.0.0.1:9")
        assert "ORDERSYNC_SHOPLAZZA_BURST" in describe_validation_error(refused.value)
