"""``create_app()``: the FastAPI application, optionally with the worker in the same process."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app import crypto, metrics
from app.api import router as api_router
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.exception_handlers import add_exception_handlers
from app.fast_routes import OrderSyncApp
from app.health import Health, install_health_routes
from app.integrations.http import new_http_client
from app.integrations.lazada.endpoints import lazada_webhook_fast
from app.integrations.lazada.endpoints import router as lazada_webhook_router
from app.integrations.lazada.intake import Intake
from app.kit.docs import install_offline_docs
from app.kit.spool import Spool
from app.middleware import RequestIdMiddleware
from app.openapi import install_problem_openapi
from app.worker.context import WorkerContext
from app.worker.runner import add_worker_loops, new_supervisor

DESCRIPTION = """
ordersync keeps sellers' marketplace orders in Postgres and lets internal services read them.

* **Webhooks** (`/webhooks/...`) take marketplace pushes: verified, stored, acknowledged at once.
* **API** (`/v1/...`) needs `Authorization: Bearer <API key>` (`ordersync api-keys create`);
  each route lists the scope it needs. Errors are RFC 9457 `application/problem+json` with a
  stable `code`.
"""


def freeze_startup_objects() -> None:
    """Keep what start-up built (modules, routes, models, pools: about 160k objects) out of
    every later full garbage collection.

    A full collection walks every tracked object: about 100 ms on the 2-core dev machine,
    measured, during which no request is served. The interpreter starts one only when enough
    new long-lived objects have piled up (none in a 9000-push burst, so the bench does not show
    it), but a process that runs for days gets them, each a 100 ms stall of every ack in flight.
    Frozen objects are left to reference counting alone, so only what lives as long as the
    process is frozen: a collection first, once, at start-up; ``gc.unfreeze()`` at shutdown.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: Settings, database_url: str, *, with_worker: bool = False) -> FastAPI:
    crypto.configure(settings.encryption_key_values)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(database_url, process_name="ordersync-api")
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        http = new_http_client(timeout=settings.http_timeout)
        ctx = WorkerContext(settings, app.state.sessionmaker, http, engine=engine)
        app.state.ctx = ctx
        intake = Intake(
            engine,
            Spool(settings.spool_directory),
            db_timeout=settings.webhook_db_timeout,
            sync_delay=settings.sync_delay,
        )
        app.state.intake = intake
        supervisor = new_supervisor(settings)
        supervisor.add("spool-drainer", intake.run_drainer)
        if with_worker:
            add_worker_loops(supervisor, ctx, database_url)
        app.state.supervisor = supervisor
        app.state.health = Health(supervisor, engine, intake.spool, settings.loop_down_grace)
        supervisor.start()
        freeze_startup_objects()
        try:
            yield
        finally:
            gc.unfreeze()
            await supervisor.stop()
            await http.aclose()
            await engine.dispose()

    app = OrderSyncApp(
        title="ordersync",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # install_offline_docs: /docs and /redoc without a CDN
        redoc_url=None,
    )
    install_offline_docs(app)
    add_exception_handlers(app)
    install_problem_openapi(app)
    app.add_middleware(RequestIdMiddleware)
    app.fast_routes[("POST", "/webhooks/lazada")] = lazada_webhook_fast
    app.include_router(lazada_webhook_router)
    app.include_router(api_router)
    install_health_routes(app)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def metrics_endpoint() -> Response:
        body = await metrics.render(
            app.state.sessionmaker, spool=app.state.intake.spool, supervisor=app.state.supervisor
        )
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
