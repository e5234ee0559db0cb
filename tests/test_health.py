"""Health that tells the truth: with no database to talk to, /readyz names the loops that are
down and why, /healthz fails once they have been down longer than the grace period, and the
metrics count their restarts; a worker serves the same on its own port."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.health import Health, create_health_app
from app.integrations.http import new_http_client
from app.kit.server import BackgroundServer
from app.main import create_app
from app.worker.context import WorkerContext
from app.worker.runner import add_worker_loops, new_supervisor
from tests.fixtures.services import make_settings, wait_for

NO_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/ordersync"


def _settings(**overrides: Any) -> Settings:
    return make_settings("http://127.0.0.1:9", loop_down_grace=1.0, **overrides)


def _loops(ready: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {loop["name"]: loop for loop in ready["loops"]}


async def test_the_api_process_reports_its_loops_and_fails_liveness_after_the_grace() -> None:
    server = BackgroundServer(create_app(_settings(), NO_DATABASE, with_worker=True))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:

            async def queue_down_past_grace() -> httpx.Response | None:
                answer = await client.get("/healthz")
                return answer if answer.status_code == 503 else None

            unhealthy = await wait_for(queue_down_past_grace, within=20, what="/healthz to fail")
            assert unhealthy is not None
            problem = unhealthy.json()
            assert unhealthy.headers["content-type"].startswith("application/problem+json")
            assert problem["code"] == "loop_down"
            assert "queue" in problem["loops"]
            assert "spool-drainer" not in problem["loops"]  # it has nothing to drain: up

            ready = (await client.get("/readyz")).json()
            assert (ready["status"], ready["database"], ready["spool_depth"]) == (
                "degraded",
                "down",
                0,
            )
            queue = _loops(ready)["queue"]
            assert queue["state"] == "restarting"
            assert queue["last_error"] in {"ConnectionRefusedError", "OSError"}
            assert queue["down_since"] is not None
            assert queue["restarts"] >= 1
            assert set(_loops(ready)) == {
                "spool-drainer",
                "queue",
                "sweeper",
                "reconcile-scheduler",
                "token-refresh-scheduler",
            }

            metrics = (await client.get("/metrics")).text
            restarts = re.search(r'ordersync_loop_restarts_total\{loop="queue"\} (\d+)', metrics)
            assert restarts is not None
            assert int(restarts.group(1)) >= 1
            assert 'ordersync_loop_up{loop="queue"} 0.0' in metrics
            assert 'ordersync_loop_up{loop="spool-drainer"} 1.0' in metrics
            assert "ordersync_spool_oldest_seconds 0.0" in metrics
            assert 'ordersync_loop_seconds_since_success{loop="spool-drainer"}' in metrics
    finally:
        await server.stop()


async def test_a_worker_serves_its_own_health(database_url: str, clean_db: None) -> None:
    settings = _settings()
    engine = create_engine(database_url, process_name="health-test", pool_size=2)
    http = new_http_client()
    supervisor = new_supervisor(settings)
    add_worker_loops(
        supervisor, WorkerContext(settings, create_sessionmaker(engine), http), database_url
    )
    health = Health(supervisor, engine, None, settings.loop_down_grace)
    server = BackgroundServer(create_health_app(health, create_sessionmaker(engine)))
    supervisor.start()
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:

            async def ready() -> dict[str, Any] | None:
                answer: dict[str, Any] = (await client.get("/readyz")).json()
                return answer if answer["status"] == "ready" else None

            answer = await wait_for(ready, within=20, what="the worker to be ready")
            assert answer is not None
            assert answer["database"] == "up"
            assert answer["spool_depth"] is None  # no spool in a worker
            assert {loop["state"] for loop in answer["loops"]} == {"running"}
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            assert "ordersync_loop_up" in (await client.get("/metrics")).text
    finally:
        await server.stop()
        await supervisor.stop()
        await http.aclose()
        await engine.dispose()
