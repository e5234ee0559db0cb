"""Factory for the Shoplazza sandbox: a real HTTP server that behaves like Shoplazza's
OpenAPI 2022-01 for the order calls ordersync makes (``/openapi/2022-01``), plus a control
surface (``/_sandbox``). Point ``SHOPLAZZA_API_BASE`` at it; shops are told apart by their
``Access-Token``, since every shop shares the one base URL."""

from __future__ import annotations

from fastapi import FastAPI

from app.kit.docs import install_offline_docs
from app.sandbox.shoplazza.admin import build_admin_router
from app.sandbox.shoplazza.api import build_fallback_router, build_rest_router
from app.sandbox.shoplazza.state import ShoplazzaState
from app.sandbox.wire import RawReceiveMiddleware


def create_shoplazza_sandbox() -> FastAPI:
    """A fresh sandbox; all state lives in this app instance, so instances never interfere."""
    state = ShoplazzaState()
    app = FastAPI(
        title="Shoplazza sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    install_offline_docs(app, docs_url="/_sandbox/docs", redoc_url=None)
    app.add_middleware(RawReceiveMiddleware)
    app.include_router(build_rest_router(state))
    app.include_router(build_admin_router(state))
    app.include_router(build_fallback_router())
    # For in-process callers (the CLI, tests) that want to inspect or tweak state directly.
    app.state.shoplazza_sandbox = state
    return app
