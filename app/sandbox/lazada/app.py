"""Factory for the Lazada sandbox: a real HTTP server that behaves like Lazada's Open Platform
for every call ordersync makes (``/rest``), plus a control surface (``/_sandbox``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.kit.docs import install_offline_docs
from app.sandbox.lazada.admin import build_admin_router
from app.sandbox.lazada.api import build_rest_router
from app.sandbox.lazada.pusher import Pusher
from app.sandbox.lazada.state import SandboxState


def create_lazada_sandbox(
    *, app_key: str, app_secret: str, webhook_url: str | None = None
) -> FastAPI:
    """A fresh sandbox; all state lives in this app instance, so instances never interfere."""
    state = SandboxState(app_key=app_key, app_secret=app_secret, webhook_url=webhook_url)
    pusher = Pusher(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pusher.start()
        try:
            yield
        finally:
            await pusher.aclose()

    app = FastAPI(
        title="Lazada sandbox",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    install_offline_docs(app, docs_url="/_sandbox/docs", redoc_url=None)
    app.include_router(build_rest_router(state, pusher))
    app.include_router(build_admin_router(state, pusher))
    # For in-process callers (the CLI, tests) that want to inspect or tweak state directly.
    app.state.lazada_sandbox = state
    return app
