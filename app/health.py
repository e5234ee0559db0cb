"""Health that tells the truth: what ``/healthz`` and ``/readyz`` answer, for the API process
and for a worker that serves them on its own port.

* ``/healthz`` (liveness) fails only when restarting the process is the last thing left to try:
  a supervised loop has been down longer than ``ORDERSYNC_LOOP_DOWN_GRACE``. A database outage
  alone does not fail it (a new process would find the same database).
* ``/readyz`` says what works right now: the database, every loop (running, or restarting with
  its last error's class and since when), and the spool. ``degraded`` still answers 200: pushes
  are taken (spooled) while degraded, and turning Lazada's traffic away would lose more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import database_answers
from app.exception_handlers import PROBLEM_JSON, add_exception_handlers, problem_body
from app.kit.spool import Spool
from app.kit.supervisor import LoopState, Supervisor


class LoopHealth(BaseModel):
    name: str = Field(examples=["queue"])
    state: LoopState = Field(
        examples=["running"],
        description="`starting` (not proven yet), `running`, `restarting` (it failed and is "
        "being started again with backoff) or `stopped` (shutting down).",
    )
    since: datetime = Field(description="When it entered this state.")
    down_since: datetime | None = Field(
        description="When it last stopped doing its work; null while it runs."
    )
    last_error: str | None = Field(
        examples=["ConnectionRefusedError"],
        description="Class of the error that last stopped it (`ended`: it returned by itself).",
    )
    restarts: int
    seconds_since_success: float | None = Field(
        description="Since its last iteration that did its work; null before the first."
    )


class Readiness(BaseModel):
    status: Literal["ready", "degraded"] = Field(
        description="`degraded` while the database is unavailable, spooled pushes wait, or a "
        "loop is not running. Pushes are still taken (200) while degraded."
    )
    database: Literal["up", "down"]
    spool_depth: int | None = Field(
        description="Pushes kept on local disk, waiting for the database (API processes)."
    )
    spool_oldest_seconds: float | None = Field(description="Age of the oldest of them.")
    loops: list[LoopHealth]


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


@dataclass
class Health:
    supervisor: Supervisor
    engine: AsyncEngine
    spool: Spool | None
    down_grace: float

    def loops(self) -> list[LoopHealth]:
        return [
            LoopHealth(
                name=s.name,
                state=s.state,
                since=s.since,
                down_since=s.down_since,
                last_error=s.last_error,
                restarts=s.restarts,
                seconds_since_success=(
                    None if s.seconds_since_success is None else round(s.seconds_since_success, 3)
                ),
            )
            for s in self.supervisor.statuses()
        ]

    async def readiness(self) -> Readiness:
        database = "up" if await database_answers(self.engine, within=1.0) else "down"
        loops = self.loops()
        degraded = (
            database == "down"
            or any(loop.state != "running" for loop in loops)
            or (self.spool is not None and self.spool.depth() > 0)
        )
        return Readiness(
            status="degraded" if degraded else "ready",
            database=database,
            spool_depth=None if self.spool is None else self.spool.depth(),
            spool_oldest_seconds=(
                None if self.spool is None else round(self.spool.oldest_age(), 3)
            ),
            loops=loops,
        )

    def liveness(self) -> JSONResponse | Liveness:
        down = self.supervisor.down_longer_than(self.down_grace)
        if not down:
            return Liveness()
        names = ", ".join(f"{s.name} ({s.last_error or 'not started'})" for s in down)
        body = problem_body(
            503,
            "loop_down",
            "A background loop has been down too long",
            f"Down longer than {self.down_grace:g} s: {names}. Restarting the process may help; "
            "see /readyz and the log.",
        )
        body["loops"] = [status.name for status in down]
        return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)


LIVENESS_DOC = {
    503: {
        "description": "A background loop has been down longer than ORDERSYNC_LOOP_DOWN_GRACE "
        "(`code`: `loop_down`)",
        "content": {
            PROBLEM_JSON: {
                "example": problem_body(
                    503,
                    "loop_down",
                    "A background loop has been down too long",
                    "Down longer than 300 s: queue (ConnectionRefusedError).",
                )
                | {"loops": ["queue"]}
            }
        },
    }
}


def install_health_routes(app: FastAPI) -> None:
    """``/healthz`` and ``/readyz``, answered from the ``Health`` in ``app.state.health`` (set
    once the process's loops and engine exist)."""

    @app.get(
        "/healthz",
        tags=["health"],
        summary="Liveness: restart the process only when this fails",
        response_model=Liveness,
        responses=LIVENESS_DOC,  # type: ignore[arg-type]
    )
    async def healthz(request: Request) -> JSONResponse | Liveness:
        health: Health = request.app.state.health
        return health.liveness()

    @app.get(
        "/readyz",
        tags=["health"],
        summary="What works right now: database, background loops, spool",
        response_model=Readiness,
    )
    async def readyz(request: Request) -> Readiness:
        health: Health = request.app.state.health
        return await health.readiness()


def create_health_app(health: Health, sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    """``/healthz``, ``/readyz`` and ``/metrics`` for a process without the API (``ordersync
    worker --health-port``), so that an orchestrator can probe workers too."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from app import metrics

    app = FastAPI(title="ordersync worker", docs_url=None, redoc_url=None)
    add_exception_handlers(app)
    app.state.health = health
    install_health_routes(app)

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def metrics_endpoint() -> Response:
        body = await metrics.render(sessionmaker, supervisor=health.supervisor)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
